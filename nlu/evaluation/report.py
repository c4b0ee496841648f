"""The evaluation report folder: metrics.json, predictions.jsonl, report.md and two plots.

Everything is written to a temporary folder next to ``out_dir`` and moved in at the end, so an interrupted run
never leaves a half-written report. Files of ``out_dir`` other than the five written here are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from nlu.data.example import Example
from nlu.evaluation.metrics import NO_INTENT, EvaluationResult, is_exact_match
from nlu.prediction import Prediction

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
REPORT_FILE = "report.md"
CONFUSION_PNG = "confusion_matrix.png"
SLOT_F1_PNG = "slot_f1.png"

# The confusion matrix stays readable up to about 30 labels; past this many it keeps the most frequent gold
# intents.
MAX_CONFUSION_LABELS = 40
# Cell counts are printed inside the confusion matrix up to this many labels.
MAX_ANNOTATED_LABELS = 30
ERRORS_IN_REPORT = 20


def write_report(
    result: EvaluationResult,
    gold: list[Example],
    pred: list[Prediction],
    out_dir: Path,
    title: str,
    extra: dict | None = None,
) -> None:
    """Write the five report files into ``out_dir`` (created if needed, existing files overwritten).

    ``gold``/``pred`` are the lists ``result`` was computed from, aligned by position. ``extra`` (run
    metadata such as model path or split, JSON-serialisable) is merged into the top level of metrics.json and
    listed under the report title; its keys may not clash with ``result.to_dict()``'s.
    """
    if len(gold) != len(pred):
        raise ValueError(f"got {len(gold)} gold examples but {len(pred)} predictions; they must be aligned")
    metrics = result.to_dict()
    extra = dict(extra or {})
    clashes = sorted(set(extra) & set(metrics))
    if clashes:
        raise ValueError(f"extra keys {clashes} clash with the metrics keys {sorted(metrics)}; rename them")
    metrics.update(extra)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        records = _prediction_records(gold, pred)
        (tmp / METRICS_FILE).write_text(
            json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        with (tmp / PREDICTIONS_FILE).open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        (tmp / REPORT_FILE).write_text(_markdown(result, records, title, extra), encoding="utf-8")
        plot_confusion_matrix(result.confusion_labels, result.confusion_matrix, tmp / CONFUSION_PNG)
        plot_slot_f1(result.per_slot, tmp / SLOT_F1_PNG)

        out_dir.mkdir(parents=True, exist_ok=True)
        for name in (METRICS_FILE, PREDICTIONS_FILE, CONFUSION_PNG, SLOT_F1_PNG, REPORT_FILE):
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prediction_records(gold: list[Example], pred: list[Prediction]) -> list[dict]:
    """One JSON record per example, errors (not an exact match) first, each group in input order."""
    records = []
    for g, p in zip(gold, pred, strict=True):
        records.append(
            {
                "id": g.id,
                "text": p.text or " ".join(g.tokens),
                "gold_intent": g.intent,
                "pred_intent": p.intent,
                "pred_intent_confidence": round(float(p.intent_confidence), 6),
                "tokens": list(g.tokens),
                "gold_tags": list(g.tags),
                "pred_tags": list(p.tags),
                "entities": [e.to_dict() for e in p.entities],
                "intent_correct": p.intent == g.intent,
                "tags_correct": list(p.tags) == list(g.tags),
                "correct": is_exact_match(g, p),
            }
        )
    return sorted(records, key=lambda r: r["correct"])  # stable: keeps input order within each group


# ----------------------------------------------------------------------------------------------- markdown


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _pct_se(value: float, se: float | None) -> str:
    return _pct(value) if se is None else f"{_pct(value)} ± {_pct(se)}"


def _cell(text: object) -> str:
    """Text safe inside a markdown table cell or line: no pipes, no newlines, no stray emphasis."""
    s = str(text).replace("\\", "\\\\").replace("\n", " ")
    for ch in "|*_`[]<>#":
        s = s.replace(ch, "\\" + ch)
    return s


def _markdown(result: EvaluationResult, records: list[dict], title: str, extra: dict) -> str:
    lines = [f"# {title}", ""]
    for key, value in extra.items():
        shown = value if isinstance(value, (str, int, float, bool)) else json.dumps(value, ensure_ascii=False)
        lines.append(f"- **{_cell(key)}**: {_cell(shown)}")
    if extra:
        lines.append("")

    slot_se_note = (
        f"a sentence bootstrap ({result.bootstrap} resamples, seed {result.seed}) for the slot scores"
        if result.bootstrap
        else "no standard error for the slot scores (no bootstrap was run)"
    )
    lines += [
        "## Summary",
        "",
        f"{result.n} examples. Mean ± standard error, in percent. Standard errors: binomial for the "
        f"accuracies, {slot_se_note}. Slot scores are span-level (seqeval, conlleval mode).",
        "",
        "| Metric | Value (%) |",
        "|---|---:|",
        f"| Intent accuracy | {_pct_se(result.intent_accuracy, result.intent_accuracy_se)} |",
        f"| Slot precision | {_pct_se(result.slot_precision, result.slot_precision_se)} |",
        f"| Slot recall | {_pct_se(result.slot_recall, result.slot_recall_se)} |",
        f"| Slot F1 | {_pct_se(result.slot_f1, result.slot_f1_se)} |",
        f"| Exact match | {_pct_se(result.exact_match, result.exact_match_se)} |",
        "",
        f"Spans: {result.n_gold_spans} gold, {result.n_pred_spans} predicted, "
        f"{result.n_correct_spans} correct. Uncoordinated tags (an I-X that continues no X span): "
        f"{result.n_uncoordinated_tags}, in {result.n_uncoordinated_examples} examples.",
    ]
    if result.n_gold_spans == 0 and result.n_pred_spans == 0:
        lines.append("There are no slot spans in gold or predictions: the slot scores are 0 by convention.")
    lines += ["", "![Intent confusion matrix](confusion_matrix.png)", "", "![Slot F1](slot_f1.png)", ""]

    lines += [
        "## Per intent",
        "",
        "| Intent | Support | Correct | Accuracy | Predicted | Precision | Recall | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in result.per_intent.items():
        lines.append(
            f"| {_cell(name)} | {row['support']} | {row['correct']} | {_pct(row['accuracy'])} | "
            f"{row['predicted']} | {_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(row['f1'])} |"
        )
    lines.append("")

    lines += ["## Per slot type", ""]
    if result.per_slot:
        lines += [
            "| Slot type | Support | Predicted | Correct | Precision | Recall | F1 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, row in result.per_slot.items():
            lines.append(
                f"| {_cell(name)} | {row['support']} | {row['predicted']} | {row['correct']} | "
                f"{_pct(row['precision'])} | {_pct(row['recall'])} | {_pct(row['f1'])} |"
            )
    else:
        lines.append("No slot spans.")
    lines.append("")

    lines += _unseen_section(result)
    lines += _errors_section(records)
    return "\n".join(lines).rstrip("\n") + "\n"


def _unseen_section(result: EvaluationResult) -> list[str]:
    lines = ["## Labels unseen in training", ""]
    if result.unseen_intents is None and result.unseen_slot_types is None:
        return lines + ["Not checked: no training vocabulary was given.", ""]
    impact = result.unseen_impact
    lines.append(
        "Gold labels the model never saw in training. They are kept in every score and count as errors "
        "when missed."
    )
    lines.append("")
    for kind, found, unit in (
        ("Intents", result.unseen_intents, "examples"),
        ("Slot types", result.unseen_slot_types, "spans"),
    ):
        if found is None:
            lines.append(f"- {kind}: not checked.")
        elif not found:
            lines.append(f"- {kind}: none.")
        else:
            listed = ", ".join(f"{_cell(name)} ({count})" for name, count in found.items())
            lines.append(f"- {kind} ({unit}): {listed}")
    lines += [
        "",
        f"- Examples with an unseen intent: {impact['examples_with_unseen_intent']}, "
        f"of which {impact['intent_errors_from_unseen']} have a wrong intent.",
        f"- Spans of an unseen slot type: {impact['spans_of_unseen_slot_type']} in "
        f"{impact['examples_with_unseen_slot_type']} examples, of which "
        f"{impact['missed_spans_of_unseen_slot_type']} are missed.",
        f"- Examples with any unseen label: {impact['examples_with_unseen_label']}, of which "
        f"{impact['exact_match_errors_from_unseen']} are not an exact match.",
        "",
    ]
    return lines


def _errors_section(records: list[dict]) -> list[str]:
    errors = [r for r in records if not r["correct"]]
    shown = errors[:ERRORS_IN_REPORT]
    lines = [f"## First errors ({len(shown)} of {len(errors)})", ""]
    if not errors:
        return lines + ["No errors.", ""]
    lines.append("All predictions, errors first, are in [predictions.jsonl](predictions.jsonl).")
    lines.append("")
    for k, r in enumerate(shown, start=1):
        pred_intent = NO_INTENT if r["pred_intent"] is None else r["pred_intent"]
        mark = "" if r["intent_correct"] else " ✗"
        lines += [
            f"{k}. **{_cell(r['id'])}**: {_cell(r['text'])}",
            f"   - intent: gold {_cell(r['gold_intent'])}, predicted {_cell(pred_intent)} "
            f"({r['pred_intent_confidence']:.2f}){mark}",
        ]
        if not r["tags_correct"]:
            lines += [
                "",
                *("   " + row for row in _tag_block(r["tokens"], r["gold_tags"], r["pred_tags"])),
                "",
            ]
    lines.append("")
    return lines


def _tag_block(tokens: list[str], gold_tags: list[str], pred_tags: list[str]) -> list[str]:
    """A fenced block with tokens, gold and predicted tags in aligned columns; differing words are starred."""
    words = [t + ("*" if g != p else "") for t, g, p in zip(tokens, gold_tags, pred_tags, strict=True)]
    columns = list(zip(words, gold_tags, pred_tags, strict=True))
    widths = [max(len(c) for c in col) for col in columns]
    rows = []
    for head, i in (("words", 0), ("gold", 1), ("pred", 2)):
        cells = [col[i].ljust(w) for col, w in zip(columns, widths, strict=True)]
        rows.append((head.ljust(6) + "  ".join(cells)).rstrip())
    fence = "~~~~" if any("```" in w for w in words) else "```"
    return [fence, *rows, fence]


# ----------------------------------------------------------------------------------------------- plots
# The plots draw on a bare matplotlib Figure with the Agg canvas instead of pyplot + matplotlib.use("Agg"):
# same output, but the process-wide backend is left alone (a notebook that calls write_report keeps its inline
# plots) and no figure is left registered with pyplot.


def plot_confusion_matrix(
    labels: list[str], matrix: list[list[int]], path: Path, max_labels: int = MAX_CONFUSION_LABELS
) -> None:
    """Save the intent confusion matrix as a PNG: rows gold, columns predicted, colour = share of the row.

    ``matrix``: (n_labels, n_labels) counts. With more than ``max_labels`` labels only the ``max_labels``
    most frequent gold intents are drawn, and an ``(other)`` column sums each row's remaining predictions.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64).reshape(len(labels), len(labels))
    title = "Intent confusion matrix"
    col_labels = list(labels)
    row_labels = list(labels)
    if len(labels) > max_labels:
        support = counts.sum(axis=1)
        order = sorted(range(len(labels)), key=lambda i: (-support[i], labels[i]))
        keep = sorted(order[:max_labels])  # back to alphabetical order for reading
        shown = counts[np.ix_(keep, keep)]
        other = counts[keep].sum(axis=1) - shown.sum(axis=1)
        counts = np.concatenate([shown, other[:, None]], axis=1)
        row_labels = [labels[i] for i in keep]
        col_labels = row_labels + ["(other)"]
        title += f" ({max_labels} most frequent of {int((support > 0).sum())} gold intents)"

    n_rows, n_cols = counts.shape
    row_total = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, row_total, out=np.zeros(counts.shape, dtype=float), where=row_total > 0)

    side = min(max(4.5, 0.35 * max(n_rows, n_cols) + 2.5), 20.0)  # inches: ~0.35 in per label
    fontsize = 10 if n_cols <= 15 else 8 if n_cols <= 30 else 6
    fig = Figure(figsize=(side + 1.0, side), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold intent")
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels(col_labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=fontsize)
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(row_labels, fontsize=fontsize)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("gold intent")
    ax.set_title(title)
    if n_cols <= MAX_ANNOTATED_LABELS:
        for i in range(n_rows):
            for j in range(n_cols):
                if counts[i, j]:
                    color = "white" if share[i, j] > 0.5 else "black"
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=fontsize, color=color)
    fig.tight_layout()
    fig.savefig(path, format="png")


def plot_slot_f1(per_slot: dict[str, dict], path: Path) -> None:
    """Save a horizontal bar chart of per-slot-type F1 (0..1), best at the top, support in the labels.

    ``per_slot`` maps slot type to a row with at least ``f1`` and ``support``, as
    ``EvaluationResult.per_slot``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(per_slot.items(), key=lambda kv: (kv[1]["f1"], kv[1]["support"], kv[0]))  # worst at bottom
    height = min(max(2.5, 0.28 * len(rows) + 1.3), 60.0)
    fig = Figure(figsize=(8.0, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if rows:
        names = [f"{name} (n={row['support']})" for name, row in rows]
        f1s = [row["f1"] for _, row in rows]
        positions = range(len(rows))
        ax.barh(positions, f1s, color="tab:blue")
        ax.set_yticks(list(positions))
        ax.set_yticklabels(names, fontsize=9 if len(rows) <= 40 else 7)
        for y, f1 in zip(positions, f1s, strict=True):
            if f1 >= 0.15:  # inside the bar's end, so a value near 1 stays in the axes
                ax.text(f1 - 0.01, y, f"{f1:.2f}", va="center", ha="right", fontsize=8, color="white")
            else:
                ax.text(f1 + 0.01, y, f"{f1:.2f}", va="center", ha="left", fontsize=8)
        ax.set_ylim(-0.6, len(rows) - 0.4)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no slot spans in gold or predictions", ha="center", va="center")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("F1 (span-level)")
    ax.set_title("Slot F1 per type")
    fig.tight_layout()
    fig.savefig(path, format="png")
