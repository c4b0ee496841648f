"""Shared fixtures: a tiny random BERT backbone built in code (no downloads), recipes that use it, and a tiny
model trained for a few steps on the packaged DEMO data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nlu.data.demo import DEMO_DIR

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_backbone(folder: Path, extra_words: list[str] = ()) -> Path:
    """A 2-layer, hidden-32 BERT with a word-piece vocabulary made from the DEMO words: fast to build, train
    and save. Returns ``folder``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    words: set[str] = set(extra_words)
    for split in ("train", "dev", "test"):
        for line in (DEMO_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            words.update(json.loads(line)["tokens"])
    chars = sorted({c for w in words for c in w} | set("abcdefghijklmnopqrstuvwxyz0123456789.,!?'"))
    vocab = SPECIALS + sorted(words) + chars + ["##" + c for c in chars]
    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    return build_tiny_backbone(tmp_path_factory.mktemp("tiny-bert"))


def write_recipe(path: Path, backbone: Path | str, dataset: str = "demo", **sections) -> Path:
    """A recipe for the tiny backbone; ``sections`` update the data/model/training sections."""
    recipe = {
        "data": {"dataset": dataset},
        "model": {"architecture": "jointbert", "backbone": str(backbone), "use_crf": True, "max_length": 48},
        "training": {
            "epochs": 1,
            "batch_size": 16,
            "learning_rate": 1e-3,
            "head_learning_rate": 1e-2,
            "max_steps": 12,
            "checkpoint_every": 4,
            "seed": 7,
            "num_threads": 1,
        },
        "output_dir": str(path.parent / "run"),
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            recipe.setdefault(section, {}).update(values)
        else:
            recipe[section] = values
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_backbone) -> Path:
    """A tiny JointBERT+CRF trained for 12 steps on DEMO; the ``best`` folder of its run."""
    from nlu.training.trainer import train

    folder = tmp_path_factory.mktemp("tiny-run")
    recipe = write_recipe(folder / "recipe.yaml", tiny_backbone)
    result = train(recipe, output_dir=folder / "run")
    return result.best_model_dir
