"""``export_model``: what an artifact directory holds, the parity check it records, and that a failed check
leaves the destination as it was (see nlu/export/exporter.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import nlu.export.exporter
import nlu.export.graph
from nlu.data.alignment import WORD_SPLIT_RULES
from nlu.errors import ExportError
from nlu.export import export_model
from nlu.export.onnx_config import OnnxConfig
from nlu.runtime.manifest import FORMAT_VERSION, sha256_file

VARIANTS = [(True, "none"), (True, "int8"), (False, "none"), (False, "int8")]
LISTED_FILES = {"model.onnx", "tokenizer.json", "intent_labels.txt", "slot_labels.txt", "README.md"}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("use_crf", "quantize"), VARIANTS, ids=["crf-fp32", "crf-int8", "softmax-fp32", "softmax-int8"]
)
def test_artifact_contents(tiny_artifact, tiny_mixed_model_dir, use_crf, quantize):
    artifact = tiny_artifact(use_crf, quantize)
    model_config = json.loads((tiny_mixed_model_dir(use_crf) / "config.json").read_text())
    assert {p.name for p in artifact.iterdir()} == LISTED_FILES | {"nlu.json", "export_report.json"}

    manifest = json.loads((artifact / "nlu.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["architecture"] == "nlu-jointbert"
    assert manifest["max_seq_length"] == model_config["max_seq_length"] == 48
    assert manifest["word_split"] == model_config["word_split"] and manifest["word_split"] in WORD_SPLIT_RULES
    assert manifest["quantization"] == quantize
    assert manifest["model_file"] == "model.onnx" and manifest["tokenizer_file"] == "tokenizer.json"
    assert manifest["intent_labels"] == model_config["intent_labels"]
    assert manifest["slot_labels"] == model_config["slot_labels"]
    assert (artifact / "intent_labels.txt").read_text().split("\n")[:-1] == manifest["intent_labels"]
    assert (artifact / "slot_labels.txt").read_text().split("\n")[:-1] == manifest["slot_labels"]
    # every file the runtime reads is hashed, and the hashes are those of the files on disk
    assert set(manifest["files"]) == LISTED_FILES
    assert all(sha256_file(artifact / name) == digest for name, digest in manifest["files"].items())

    decoding = manifest["decoding"]
    num_tags = len(manifest["slot_labels"])
    if use_crf:
        assert decoding["type"] == "crf"
        assert len(decoding["transitions"]) == num_tags
        assert all(len(row) == num_tags for row in decoding["transitions"])
        assert len(decoding["start_transitions"]) == len(decoding["end_transitions"]) == num_tags
    else:
        assert decoding == {"type": "softmax"}

    report = json.loads((artifact / "export_report.json").read_text())
    parity = report["parity"]
    assert (
        report["quantization"] == quantize
        and report["check_data"] == "demo/dev"
        and set(report["scores"]) == {"torch", "onnx"}
    )
    assert report["model_bytes"] == (artifact / "model.onnx").stat().st_size
    assert parity["passed"] is True and parity["problems"] == []
    assert parity["utterances"] == 80  # DEMO dev, the dev split of the training recipe
    assert parity["intent_agreement"] >= parity["min_agreement"]
    assert parity["slot_tag_agreement"] >= parity["min_agreement"]
    if quantize == "none":
        assert parity["max_abs_logit_difference"] <= 1e-3 and parity["atol"] == 1e-3
        assert parity["intent_agreement"] == parity["slot_tag_agreement"] == 1.0
    else:
        assert parity["atol"] is None and parity["min_agreement"] < 1.0


def test_int8_quantizes_the_encoder_but_not_the_heads(tiny_artifact):
    """The matrix products that produce intent_logits and slot_logits stay fp32; the encoder's are int8."""
    import onnx

    graph = onnx.load(str(tiny_artifact(True, "int8") / "model.onnx")).graph
    producers = {out: node for node in graph.node for out in node.output}
    for output in ("intent_logits", "slot_logits"):
        node, ops = producers[output], []
        while node is not None and node.op_type not in ("MatMul", "MatMulInteger", "Gemm"):
            ops.append(node.op_type)
            node = next((producers[i] for i in node.input if i in producers), None)
        assert node is not None and node.op_type in ("MatMul", "Gemm"), (output, ops)
    assert any(node.op_type == "MatMulInteger" for node in graph.node)


def test_int8_graph_is_smaller_than_fp32(tiny_artifact):
    fp32 = (tiny_artifact(True, "none") / "model.onnx").stat().st_size
    int8 = (tiny_artifact(True, "int8") / "model.onnx").stat().st_size
    assert int8 < fp32


@pytest.fixture
def reuse_exported_graph(monkeypatch, tiny_artifact):
    """Stand in for ``torch.onnx.export`` with a graph exported before: the tests that use this are about what
    happens after the graph is made, and a real export costs seconds."""
    exported = tiny_artifact(True, "none")

    def fake_export(config, torch_parser, path, opset, fusable=False):
        shutil.copyfile(exported / "model.onnx", path)
        return json.loads((exported / "nlu.json").read_text())["inputs"]

    monkeypatch.setattr(nlu.export.exporter, "_torch_export", fake_export)


def test_failed_check_writes_nothing(
    tmp_path, monkeypatch, tiny_mixed_model_dir, tiny_artifact, reuse_exported_graph
):
    """A graph that fails the parity check never reaches the destination: a new one is not created, an existing
    good artifact keeps every byte, and no temporary folder is left beside it."""
    model_dir = tiny_mixed_model_dir(True)
    # no fp32 graph can be within a negative tolerance
    monkeypatch.setattr(nlu.export.exporter, "onnx_config_for", lambda model: OnnxConfig(atol=-1.0))
    fresh = tmp_path / "fresh"
    with pytest.raises(ExportError, match="tolerance") as err:
        export_model(model_dir, fresh, optimize=False)
    assert f"Nothing was written to {fresh}" in str(err.value)
    assert not fresh.exists()

    # int8 is held to label agreement, which cannot exceed 1
    monkeypatch.setattr(
        nlu.export.exporter, "onnx_config_for", lambda model: OnnxConfig(min_agreement_int8=1.01)
    )
    good = tmp_path / "good"
    shutil.copytree(tiny_artifact(True, "none"), good)
    before = _snapshot(good)
    with pytest.raises(ExportError, match="agreement"):
        export_model(model_dir, good, quantize="int8", optimize=False)
    assert _snapshot(good) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good"]  # no .good.tmp-*, no .good.old


def test_passing_check_replaces_an_existing_artifact(tmp_path, tiny_mixed_model_dir, reuse_exported_graph):
    out = tmp_path / "artifact"
    out.mkdir()
    (out / "nlu.json").write_text("{}")  # an earlier artifact: replaced without --overwrite
    (out / "stale.txt").write_text("from an older export")
    report = export_model(tiny_mixed_model_dir(True), out, optimize=False)
    assert report["parity"]["passed"] and not report["optimized"]
    assert not (out / "stale.txt").exists() and (out / "nlu.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_artifact_is_readable_by_other_users(tmp_path, tiny_mixed_model_dir):
    """A server running as another user reads the artifact: 0755 folders and 0644 files under umask 022."""
    previous = os.umask(0o022)
    try:
        export_model(tiny_mixed_model_dir(True), tmp_path / "artifact", quantize="int8")
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "artifact", *tmp_path.rglob("*")]}
    assert modes.pop("artifact") == 0o755
    assert modes == dict.fromkeys(LISTED_FILES | {"nlu.json", "export_report.json"}, 0o644)


def test_unknown_quantization_is_refused_before_any_work(tmp_path, tiny_mixed_model_dir):
    with pytest.raises(ExportError, match="--quantize must be none or int8, got 'int4'"):
        export_model(tiny_mixed_model_dir(True), tmp_path / "out", quantize="int4")
    assert not (tmp_path / "out").exists()


def test_architecture_without_onnx_config(tmp_path, monkeypatch, tiny_mixed_model_dir):
    monkeypatch.setattr(nlu.export.exporter, "onnx_config_for", lambda model: None)
    with pytest.raises(ExportError, match="'nlu-jointbert' has no ONNX export yet"):
        export_model(tiny_mixed_model_dir(True), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_check_set_defaults_to_the_training_dev_split(tmp_path, monkeypatch, tiny_mixed_model_dir):
    """Without --data the check uses the recipe's dev split; when that cannot be read here (a data set outside
    NLU_DATA_DIR), the built-in utterances; a --data the user names must load."""
    import json
    import shutil

    from nlu.errors import DataError
    from nlu.export.exporter import _check_examples

    model_dir = tiny_mixed_model_dir(True)
    examples, source = _check_examples(model_dir, None, "dev")
    assert source == "demo/dev" and len(examples) == 80

    moved = tmp_path / "model"
    shutil.copytree(model_dir, moved)
    info = json.loads((moved / "training_info.json").read_text())
    info["recipe"]["data"]["dataset"] = "atis"
    (moved / "training_info.json").write_text(json.dumps(info))
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "no-data-here"))
    examples, source = _check_examples(moved, None, "dev")
    assert source is None and len(examples) == 7
    with pytest.raises(DataError):
        _check_examples(moved, "atis", "dev")


def test_a_head_weight_shared_by_two_passes_stays_fp32_in_both(tmp_path):
    """SlotRefine's slot classifier is applied after each pass. Quantising only the pass whose output is not
    a graph output would leave a DequantizeLinear of the whole weight in every run: both uses stay fp32."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    shared = numpy_helper.from_array(rng.standard_normal((8, 5)).astype(np.float32), "classifier")
    encoder = numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "encoder")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "encoder"], ["h"], name="encoder_matmul"),
            helper.make_node("MatMul", ["h", "classifier"], ["pass1"], name="pass1_matmul"),
            helper.make_node("ArgMax", ["pass1"], ["tags"], name="argmax", axis=-1, keepdims=1),
            helper.make_node("Cast", ["tags"], ["tags_f"], name="cast", to=TensorProto.FLOAT),
            helper.make_node("Add", ["h", "tags_f"], ["h2"], name="feedback"),
            helper.make_node("MatMul", ["h2", "classifier"], ["slot_logits"], name="pass2_matmul"),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8])],
        [helper.make_tensor_value_info("slot_logits", TensorProto.FLOAT, [1, 3, 5])],
        [shared, encoder],
    )
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    heads = nlu.export.graph._head_matmuls(path)
    assert sorted(heads) == ["pass1_matmul", "pass2_matmul"]
    quantized = nlu.export.graph._quantize(path, tmp_path / "q.onnx")
    ops = [node.op_type for node in onnx.load(str(quantized)).graph.node]
    assert "DequantizeLinear" not in ops and ops.count("MatMul") == 2


def test_optimised_export_fuses_each_layers_attention(tiny_artifact, tiny_mixed_model_dir):
    """The TorchScript export with eager attention lets onnxruntime fuse every encoder layer's attention into one
    ``Attention`` node (the torch.export graph fused none): the fast path on CPU."""
    from nlu.models import load_model

    layers = load_model(tiny_mixed_model_dir(True)).encoder.config.num_hidden_layers
    report = json.loads((tiny_artifact(True, "none") / "export_report.json").read_text())
    assert report["optimized"]
    assert report["fused_operators"].get("Attention") == layers
    assert report["fused_operators"].get("SkipLayerNormalization") == 2 * layers
