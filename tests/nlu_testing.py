"""Helpers shared by the tests (imported as ``from nlu_testing import ...``): a tiny random BERT backbone and a
tiny random Llama (a decoder LLM backbone) built in code, recipes that use them, and a uvicorn server on a
loopback port. Fixtures live in ``conftest.py``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    import torch

    torch.manual_seed(
        0
    )  # the same tiny encoder in every session: a test's outcome must not depend on the draw
    BertModel(config).save_pretrained(folder)
    return folder


def demo_words() -> list[str]:
    """Every word of the packaged DEMO data, sorted."""
    words: set[str] = set()
    for split in ("train", "dev", "test"):
        for line in (DEMO_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            words.update(json.loads(line)["tokens"])
    return sorted(words)


# SmolLM2's chat format, without its default system message
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_decoder_backbone(folder: Path) -> Path:
    """A 2-layer, hidden-32 Llama causal LM (grouped-query attention, as SmolLM2) with a byte-level BPE of 400
    tokens trained on the DEMO words, its tokenizer made an encoder's by the same function that converts the
    packaged SmolLM2 (``nlu.models.backbones.encoder_tokenizer``: leading space, end token appended, a pad
    token): a decoder backbone that is fast to build, train, save and export. ``chat/`` holds the raw
    tokenizer with a ChatML template, as the converted folder does, for generation. Returns ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from nlu.models.backbones import encoder_tokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([" ".join(demo_words())] * 3, trainer=trainer)
    raw = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<|endoftext|>", bos_token="<|im_start|>", eos_token="<|im_end|>"
    )
    fast = encoder_tokenizer(raw, pad_token="<|endoftext|>")
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    raw.chat_template = CHATML
    raw.save_pretrained(folder / "chat")  # as in the converted SmolLM2 folder: the tokenizer that generates
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        pad_token_id=fast.pad_token_id,
        bos_token_id=raw.bos_token_id,
        eos_token_id=raw.eos_token_id,
        tie_word_embeddings=True,
    )
    config.architectures = ["LlamaForCausalLM"]
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


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


# 30 steps at a high learning rate: the tiny model then predicts a mix of intents and slot tags, so that comparing
# two ways of running it (torch and ONNX) compares real labels, not "O" everywhere
MIXED_TRAINING = {"max_steps": 30, "epochs": 2, "learning_rate": 1e-2, "warmup_ratio": 0.0}
# The question-answering zero-shot model needs more steps at a lower rate before it tags anything but O.
QA_TRAINING = {
    "max_steps": 160,
    "epochs": 6,
    "learning_rate": 3e-3,
    "head_learning_rate": 3e-3,
    "warmup_ratio": 0.0,
}

# A label set none of whose slot types the DEMO data has, one with example values and one without a description.
QA_LABELS = """intents:
  order_pizza: order a pizza to be delivered
  play_music:
slots:
  topping:
    description: an ingredient on a pizza
    examples: [ham, mushrooms]
  city: a town
  song:
"""


@contextmanager
def serving(app) -> Iterator[str]:
    """Run ``app`` on uvicorn at 127.0.0.1 on a port the OS picks; yield its base URL, stop it afterwards."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


TINY_LM_WORDS = ["play", "some", "jazz", "music", "weather", "in", "paris", "book", "a", "table"]
TINY_LM_WORDS += [
    "the",
    "intent",
    "is",
    "choose",
    "one",
    "of",
    "slots",
    "none",
    "utterance",
    ":",
    "-",
    "1",
    "2",
]


def build_tiny_causal_lm(folder: Path) -> Path:
    """A 2-layer, hidden-32 Llama with a word-level vocabulary: the local prompting backend's test model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", "<s>", "</s>", *TINY_LM_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


KB_ASSETS = Path(__file__).resolve().parent / "assets" / "kb"
KB_TINY_MODEL = {
    "word_embedding_size": 16,
    "slot_embedding_size": 8,
    "position_embedding_size": 4,
    "hidden_size": 32,
    "attention_heads": 2,
    "dropout": 0.0,
    "min_word_count": 1,
    "max_output_length": 30,
    "beam_size": 2,
}


def write_kb_recipe(folder: Path, **training) -> Path:
    """A knowledge-base describer recipe on the synthetic records of tests/assets/kb with a tiny model."""
    recipe = {
        "task": "kb_describe",
        "data": {"files": {s: str(KB_ASSETS / f"{s}.jsonl") for s in ("train", "dev")}},
        "model": KB_TINY_MODEL,
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 0.01, "seed": 1, **training},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


REDIAL_ASSETS = Path(__file__).resolve().parent / "assets" / "redial"
NTRD_TINY_MODEL = {
    "hidden_size": 32,
    "attention_heads": 2,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "feedforward_size": 64,
    "dropout": 0.0,
    "min_word_count": 1,
    "max_context_length": 64,
    "max_reply_length": 12,
    "title_length": 4,
}


def write_ntrd_recipe(folder: Path, **training) -> Path:
    """A template-filling recipe on the synthetic dialogues of tests/assets/redial with a tiny model."""
    recipe = {
        "task": "ntrd",
        "data": {
            "files": {"train": str(REDIAL_ASSETS / "train.jsonl")},
            "dev_split": None,
            "dev_fraction": 0.2,
            "catalogue": str(REDIAL_ASSETS / "movies.csv"),
        },
        "model": NTRD_TINY_MODEL,
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 0.005, "seed": 1, **training},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path
