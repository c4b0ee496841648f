"""``nlu export``, ``nlu serve`` and ``nlu push``: an ONNX artifact for the torch-free runtime, the HTTP server,
and the upload of a model or artifact to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path

import typer

from nlu.cli.app import (
    IntentBonusOption,
    JsonOption,
    SlotBonusOption,
    TaskOption,
    app,
    echo_json,
    progress_bars,
)


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="A trained model directory, e.g. runs/atis/best."),
    out_dir: Path = typer.Argument(..., help="The artifact directory to write."),
    quantize: str = typer.Option("none", "--quantize", help="none or int8 (dynamic, per-channel)."),
    optimize: bool = typer.Option(True, "--optimize/--no-optimize", help="onnxruntime transformer fusions."),
    data: str | None = typer.Option(None, "--data", "-d", help="Check (and score) on this data set's split."),
    split: str = typer.Option("dev", "--split", help="The split --data uses."),
    labels: Path | None = typer.Option(
        None, "--labels", help="Zero-shot models: export with this YAML label set (intents, slot types)."
    ),
    intent_bonus: float | None = IntentBonusOption,
    slot_bonus: float | None = SlotBonusOption,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace OUT_DIR even if it is a file or a folder that is not an artifact."
    ),
    task: str | None = TaskOption,
    as_json: bool = JsonOption,
) -> None:
    """Export to ONNX for the torch-free runtime; checks ONNX against torch and writes nothing on a mismatch.

    OUT_DIR may be new, empty, or an artifact from an earlier export (replaced); anything else needs
    --overwrite, and the directory holding the model is never replaced. A multi-task model exports one task per
    artifact (--task NAME): the encoder and that task's heads, a plain single-task artifact."""
    from nlu.export import export_model

    with progress_bars() as progress:
        report = export_model(
            model_dir,
            out_dir,
            quantize=quantize,
            optimize=optimize,
            data=data,
            split=split,
            labels=labels,
            unseen_intent_bonus=intent_bonus,
            unseen_slot_bonus=slot_bonus,
            overwrite=overwrite,
            progress=progress,
            task=task,
        )
    if as_json:
        echo_json(report | {"out_dir": str(out_dir)})
        return
    parity = report["parity"]
    typer.echo(
        f"wrote {out_dir} ({report['model_bytes'] / 1e6:.1f} MB, quantization {quantize}); checked on "
        f"{parity['utterances']} utterances ({report['check_data']}): max |logit diff| "
        f"{parity['max_abs_logit_difference']:.2e}, intent agreement {parity['intent_agreement']:.4f}, "
        f"slot tag agreement {parity['slot_tag_agreement']:.4f}"
    )
    for name, scores in report.get("scores", {}).items():
        typer.echo(
            f"  {name:5s} intent accuracy {scores['intent_accuracy']:.4f}  slot F1 {scores['slot_f1']:.4f}  "
            f"exact match {scores['exact_match']:.4f}"
        )


@app.command()
def serve(
    artifact_dir: Path = typer.Argument(..., help="An artifact directory written by nlu export."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(5005, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
    threads: int = typer.Option(1, "--threads", min=1, help="onnxruntime threads per worker."),
    max_body: int = typer.Option(
        64 * 1024, "--max-body", min=1, help="Largest request body in bytes (413 above)."
    ),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Most texts in one /parse/batch request."),
    body_timeout: float = typer.Option(
        10.0, "--body-timeout", min=0.001, help="Seconds for a request body to arrive whole (408 after)."
    ),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log", help="Log every request."),
    fallback_threshold: float | None = typer.Option(
        None,
        "--fallback-threshold",
        min=0.0,
        max=1.0,
        help="Answer the intent nlu_fallback below this intent confidence (Rasa's FallbackClassifier threshold).",
    ),
    ambiguity_threshold: float | None = typer.Option(
        None,
        "--ambiguity-threshold",
        min=0.0,
        max=1.0,
        help="Answer nlu_fallback when the top two intents' confidences are closer than this.",
    ),
    micro_batch: int = typer.Option(
        16,
        "--micro-batch",
        min=1,
        help="Most concurrent /parse requests parsed in one model run (1: each alone).",
    ),
    micro_batch_wait: float = typer.Option(
        0.0,
        "--micro-batch-wait",
        min=0.0,
        help="Milliseconds the first request of a batch waits for others (0: a lone request never waits).",
    ),
) -> None:
    """Serve an exported model over HTTP: POST /parse, /model/parse (Rasa), /parse/batch; GET /health, /version."""
    import math

    from nlu.serve import run_server

    if not math.isfinite(micro_batch_wait):
        raise typer.BadParameter(
            "expected a number of milliseconds, 0 or more", param_hint="'--micro-batch-wait'"
        )
    run_server(
        artifact_dir,
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        max_body=max_body,
        max_batch=max_batch,
        access_log=access_log,
        body_timeout=body_timeout,
        fallback_threshold=fallback_threshold,
        ambiguity_threshold=ambiguity_threshold,
        micro_batch=micro_batch,
        micro_batch_wait=micro_batch_wait / 1000,
    )


@app.command()
def push(
    model_dir: Path = typer.Argument(
        ..., help="A trained model (RUN/best or RUN), or an artifact from nlu export."
    ),
    repo_id: str = typer.Argument(
        ..., help="The Hub repository, e.g. my-org/atis-jointbert (created if missing)."
    ),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="The Hub's URL (default: $HF_ENDPOINT, else https://huggingface.co)."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        help="A Hub token with write access (default: huggingface_hub's, from `hf auth login`).",
    ),
    private: bool | None = typer.Option(
        None, "--private/--public", help="The visibility of a repository created now (default: the Hub's)."
    ),
    revision: str | None = typer.Option(None, "--revision", help="The branch to commit to (default: main)."),
    message: str | None = typer.Option(None, "--message", "-m", help="The commit message."),
    as_json: bool = JsonOption,
) -> None:
    """Upload a model or an artifact, model card included, to the Hugging Face Hub in one commit."""
    from nlu.hub import push_to_hub

    result = push_to_hub(
        model_dir,
        repo_id,
        endpoint=endpoint,
        token=token,
        private=private,
        revision=revision,
        commit_message=message,
    )
    if as_json:
        echo_json({"repo_url": result.repo_url, "commit_url": result.commit_url, "files": result.files})
        return
    typer.echo(f"pushed {len(result.files)} files to {result.repo_url}: {result.commit_url}")
