"""Metrics for generated text, on well-kept implementations: BLEU (sacrebleu), METEOR (nltk), ROUGE-L
(rouge-score), Distinct-n; and the record-level scores of knowledge-base description (reconstruction P/R/F1 and
the slot error rate).

Every text metric takes ``hypotheses: list[str]`` and ``references: list[list[str]]`` (one list of reference
texts per hypothesis, any number each) and returns a percentage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache


def bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_order: int = 4, tokenize: str = "13a"
) -> float:
    """Corpus BLEU-``max_order`` (sacrebleu), case-sensitive, several references each. ``tokenize="none"`` for
    texts already split into words with spaces."""
    from sacrebleu.metrics import BLEU

    _check(hypotheses, references)
    streams = _reference_streams(references)
    # force: with tokenize="none" the texts are split into words on purpose (sacrebleu would warn about it)
    metric = BLEU(max_ngram_order=max_order, tokenize=tokenize, force=tokenize == "none")
    return metric.corpus_score(list(hypotheses), streams).score


def _reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """sacrebleu wants one stream per reference position; missing references are ``None``."""
    width = max(len(r) for r in references)
    return [[r[i] if i < len(r) else None for r in references] for i in range(width)]


@lru_cache(maxsize=1)
def _wordnet():
    """NLTK's WordNet when its data is installed; otherwise ``None`` (METEOR then matches exact words and
    stems only, which makes it a little lower than with synonyms)."""
    try:
        from nltk.corpus import wordnet

        wordnet.synsets("dog")
        return wordnet
    except LookupError:
        return None


class _NoSynonyms:
    def synsets(self, *args, **kwargs) -> list:
        return []


def meteor_uses_synonyms() -> bool:
    return _wordnet() is not None


def meteor(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean sentence METEOR (nltk), each hypothesis against all its references; lower-cased, words split by
    sacrebleu's 13a tokeniser. See :func:`meteor_uses_synonyms`."""
    from nltk.translate.meteor_score import meteor_score

    _check(hypotheses, references)
    wordnet = _wordnet() or _NoSynonyms()
    total = 0.0
    for hyp, refs in zip(hypotheses, references, strict=True):
        total += meteor_score([_words(r) for r in refs], _words(hyp), wordnet=wordnet)
    return 100 * total / max(len(hypotheses), 1)


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean sentence ROUGE-L F-measure (rouge-score), the best over each hypothesis's references."""
    from rouge_score import rouge_scorer

    _check(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    total = 0.0
    for hyp, refs in zip(hypotheses, references, strict=True):
        total += scorer.score_multi(list(refs), hyp)["rougeL"].fmeasure
    return 100 * total / max(len(hypotheses), 1)


def distinct(hypotheses: Sequence[str], n: int) -> float:
    """Distinct-n: distinct n-grams over all n-grams of all hypotheses (lower-cased words), in percent."""
    grams: list[tuple[str, ...]] = []
    for hyp in hypotheses:
        words = _words(hyp)
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return 100 * len(set(grams)) / len(grams) if grams else 0.0


def _words(text: str) -> list[str]:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()(text.lower()).split()


def _check(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if any(len(r) == 0 for r in references):
        raise ValueError("every hypothesis needs at least one reference")


def record_pairs(record: Mapping[str, Sequence[str] | str]) -> set[tuple[str, str]]:
    """(slot, lower-cased value) pairs of a record; list values give one pair each."""
    pairs = set()
    for slot, value in record.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            pairs.add((slot, str(v).strip().lower()))
    return pairs


def reconstruction_scores(
    inputs: Sequence[Mapping[str, Sequence[str] | str]],
    extracted: Sequence[Mapping[str, Sequence[str] | str]],
) -> dict[str, float | int]:
    """Knowledge-base reconstruction (Wang et al. 2018): the records extracted back from generated texts
    against the input records, micro-averaged over (slot, value) pairs; and the slot error rate of E2E work,
    ``(missing + added) / input pairs``, where a wrong value counts as one missing and one added.
    Percentages, plus the counts."""
    if len(inputs) != len(extracted):
        raise ValueError(f"{len(inputs)} input records but {len(extracted)} extracted ones")
    gold_n = pred_n = correct = 0
    for gold, pred in zip(inputs, extracted, strict=True):
        g, p = record_pairs(gold), record_pairs(pred)
        gold_n, pred_n, correct = gold_n + len(g), pred_n + len(p), correct + len(g & p)
    precision = correct / pred_n if pred_n else 0.0
    recall = correct / gold_n if gold_n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missing, added = gold_n - correct, pred_n - correct
    return {
        "precision": 100 * precision,
        "recall": 100 * recall,
        "f1": 100 * f1,
        "slot_error_rate": 100 * (missing + added) / gold_n if gold_n else 0.0,
        "missing": missing,
        "added": added,
        "input_pairs": gold_n,
    }
