"""A damaged artifact is refused at load time with an ``ArtifactError`` that names the file, never parsed with
and never a raw traceback. Each test works on its own copy of the shared artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import nlu.runtime.manifest
from nlu.runtime import ArtifactError, Parser


@pytest.fixture
def artifact(tmp_path, tiny_artifact) -> Path:
    copy = tmp_path / "artifact"
    shutil.copytree(tiny_artifact(True), copy)
    return copy


def _edit_manifest(artifact: Path, **changes) -> None:
    path = artifact / "nlu.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_untouched_copy_loads(artifact):
    assert Parser.load(artifact).parse("turn the bathroom desk lamp off").intent is not None


def test_flipped_byte_in_the_graph(artifact):
    model = artifact / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match") as err:
        Parser.load(artifact)
    assert str(model) in str(err.value) and "Export the model again" in str(err.value)


def test_truncated_tokenizer(artifact):
    tokenizer = artifact / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes()[:1000])
    with pytest.raises(ArtifactError, match="changed or truncated") as err:
        Parser.load(artifact)
    assert str(tokenizer) in str(err.value)
    # without the hashes the damage is still caught, by the tokenizer library, and still an ArtifactError
    with pytest.raises(ArtifactError, match="could not load the model or tokenizer"):
        Parser.load(artifact, verify=False)


@pytest.mark.parametrize("name", ["intent_labels.txt", "slot_labels.txt"])
def test_deleted_label_file(artifact, name):
    (artifact / name).unlink()
    with pytest.raises(ArtifactError, match="listed in nlu.json but missing") as err:
        Parser.load(artifact)
    assert str(artifact / name) in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b'{"format_version": 1, "model_file": "mod', b"\xff\xfe\x00garbage", b"[]"],
    ids=["truncated", "not-utf8", "not-an-object"],
)
def test_corrupt_manifest(artifact, content):
    (artifact / "nlu.json").write_bytes(content)
    with pytest.raises(ArtifactError, match="the artifact is damaged") as err:
        Parser.load(artifact)
    assert str(artifact / "nlu.json") in str(err.value)


def test_manifest_missing_keys(artifact):
    manifest = json.loads((artifact / "nlu.json").read_text())
    del manifest["slot_labels"], manifest["files"]  # without "files" nothing would be verified
    (artifact / "nlu.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="missing slot_labels, files") as err:
        Parser.load(artifact)
    assert str(artifact / "nlu.json") in str(err.value)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_wrong_format_version(artifact, version):
    _edit_manifest(artifact, format_version=version)
    with pytest.raises(ArtifactError, match=f"artifact format {version!r}, this runtime reads 1") as err:
        Parser.load(artifact, verify=False)  # checked whether or not the hashes are
    assert str(artifact / "nlu.json") in str(err.value)


def test_unknown_word_splitting_rule(artifact):
    _edit_manifest(artifact, word_split="ws_v0")
    with pytest.raises(ArtifactError, match="word splitting rule 'ws_v0'"):
        Parser.load(artifact)


def test_not_an_artifact(tmp_path, tiny_mixed_model_dir):
    with pytest.raises(ArtifactError, match="no such artifact directory"):
        Parser.load(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="no nlu.json; is this a directory written by `nlu export`"):
        Parser.load(tiny_mixed_model_dir(True))  # a torch model directory


def test_verify_false_skips_hashing(artifact, monkeypatch):
    (artifact / "intent_labels.txt").write_text(
        "edited after export\n"
    )  # the runtime reads labels from nlu.json
    with pytest.raises(ArtifactError, match="intent_labels.txt"):
        Parser.load(artifact)

    def no_hashing(path):
        raise AssertionError(f"hashed {path} although verify=False")

    monkeypatch.setattr(nlu.runtime.manifest, "sha256_file", no_hashing)
    parser = Parser.load(artifact, verify=False)
    assert parser.parse("turn the bathroom desk lamp off").intent in parser.intent_labels


@pytest.mark.parametrize("drop", ["all", "model.onnx", "tokenizer.json"])
def test_a_manifest_that_does_not_list_a_file_the_runtime_reads(artifact, drop):
    """With "files": {} (or model.onnx left out) a tampered model.onnx was loaded without a check."""
    files = json.loads((artifact / "nlu.json").read_text())["files"]
    _edit_manifest(artifact, files={} if drop == "all" else {k: v for k, v in files.items() if k != drop})
    with open(artifact / "model.onnx", "ab") as f:
        f.write(b"\0")
    name = "model.onnx" if drop == "all" else drop
    with pytest.raises(ArtifactError, match=f"{name}.* not listed under 'files'"):
        Parser.load(artifact)
    with pytest.raises(ArtifactError, match="not listed under 'files'"):
        Parser.load(artifact, verify=False)  # a listing is checked even when hashing is skipped
