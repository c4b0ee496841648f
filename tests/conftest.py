"""Shared fixtures: a tiny random BERT backbone built in code (no downloads), tiny models trained on the packaged
DEMO data, artifacts exported from them, and a loopback server. Helpers are in ``nlu_testing.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from nlu_testing import (
    MIXED_TRAINING,
    QA_TRAINING,
    build_tiny_backbone,
    build_tiny_decoder_backbone,
    serving,
    write_recipe,
)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_decoder_backbone(tmp_path_factory) -> Path:
    """A tiny random Llama saved as a causal LM, with an encoder's tokenizer: a decoder LLM backbone."""
    return build_tiny_decoder_backbone(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_backbone) -> Path:
    """A tiny JointBERT+CRF trained for 12 steps on DEMO; the ``best`` folder of its run."""
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp("tiny-run")
    recipe = write_recipe(folder / "recipe.yaml", tiny_backbone)
    result = train(recipe, output_dir=folder / "run")
    return result.best_model_dir


@pytest.fixture(scope="session")
def tiny_mixed_model_dir(tmp_path_factory, tiny_backbone):
    """``tiny_mixed_model_dir(use_crf)`` -> the ``best`` folder of a tiny JointBERT (with or without CRF) trained
    with ``MIXED_TRAINING`` on DEMO; each variant is trained once per session."""
    from nlu.training.trainer import train

    trained: dict[bool, Path] = {}

    def get(use_crf: bool = True) -> Path:
        if use_crf not in trained:
            folder = tmp_path_factory.mktemp("tiny-crf-run" if use_crf else "tiny-softmax-run")
            recipe = write_recipe(
                folder / "recipe.yaml", tiny_backbone, model={"use_crf": use_crf}, training=MIXED_TRAINING
            )
            trained[use_crf] = train(recipe, output_dir=folder / "run").best_model_dir
        return trained[use_crf]

    return get


@pytest.fixture(scope="session")
def tiny_zeroshot_qa_dir(tmp_path_factory, tiny_backbone) -> Path:
    """The ``best`` folder of a tiny question-answering zero-shot model (``zeroshot_qa``) trained with
    ``QA_TRAINING`` on DEMO."""
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp("tiny-zeroshot-qa-run")
    recipe = write_recipe(
        folder / "recipe.yaml",
        tiny_backbone,
        model={"architecture": "zeroshot_qa", "use_crf": False, "zeroshot_qa": {"embed_dim": 16}},
        training=QA_TRAINING,
    )
    return train(recipe, output_dir=folder / "run").best_model_dir


@pytest.fixture(scope="session")
def tiny_artifact(tmp_path_factory, tiny_mixed_model_dir):
    """``tiny_artifact(use_crf, quantize)`` -> an artifact directory written by ``export_model`` from
    ``tiny_mixed_model_dir(use_crf)``; each is exported once per session (several seconds each) and shared, so
    tests must not change it: copy it first (``shutil.copytree``)."""
    from nlu.export import export_model

    exported: dict[tuple[bool, str], Path] = {}

    def get(use_crf: bool = True, quantize: str = "none") -> Path:
        key = (use_crf, quantize)
        if key not in exported:
            name = f"artifact-{'crf' if use_crf else 'softmax'}-{quantize}"
            out = tmp_path_factory.mktemp(name) / "artifact"
            export_model(tiny_mixed_model_dir(use_crf), out, quantize=quantize)
            exported[key] = out
        return exported[key]

    return get


@pytest.fixture(scope="session")
def artifact_dir(tiny_artifact) -> Path:
    """The tiny JointBERT+CRF exported for the runtime (shared; copy before changing it)."""
    return tiny_artifact(True, "none")


@pytest.fixture(scope="session")
def parser(artifact_dir):
    from nlu.runtime import Parser

    return Parser.load(artifact_dir, num_threads=1)


@pytest.fixture(scope="session")
def start_server():
    """``with start_server(app) as url:`` runs ``app`` on a loopback port for the block."""
    return serving
