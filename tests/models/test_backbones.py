"""Backbone names: packaged aliases, paths, and hub ids served from a local mirror ($NLU_BACKBONES_DIR)."""

from __future__ import annotations

import pytest

from nlu.errors import ModelError
from nlu.models.backbones import resolve_backbone


def test_hub_id_is_found_in_the_local_mirror(tmp_path, monkeypatch):
    folder = tmp_path / "intfloat__multilingual-e5-small"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("NLU_BACKBONES_DIR", str(tmp_path))
    assert resolve_backbone("intfloat/multilingual-e5-small") == str(folder)
    assert resolve_backbone("someone/else") == "someone/else"  # not mirrored: left for the hub


def test_a_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_backbone(str(tmp_path))


def test_frozen_word_embeddings_do_not_move(tmp_path, tiny_backbone):
    import torch
    from nlu_testing import write_recipe
    from transformers import AutoModel

    from nlu.models import load_model
    from nlu.training.trainer import train

    recipe = write_recipe(tmp_path / "r.yaml", tiny_backbone, model={"freeze_embeddings": True})
    best = train(recipe, output_dir=tmp_path / "run").best_model_dir
    before = AutoModel.from_pretrained(tiny_backbone).get_input_embeddings().weight
    after = load_model(best).encoder.get_input_embeddings().weight
    assert torch.equal(before, after)
    assert not torch.equal(
        AutoModel.from_pretrained(tiny_backbone).encoder.layer[0].attention.self.query.weight,
        load_model(best).encoder.encoder.layer[0].attention.self.query.weight,
    )
