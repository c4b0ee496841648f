"""``Parser``: an exported model on onnxruntime + tokenizers + numpy, no torch.

Gives the same :class:`~nlu.prediction.Prediction` as ``nlu predict`` on the torch model: the same word
splitting (``nlu.data.alignment``), the same first-sub-token labelling, the same UNK masking, and CRF decoding
(Viterbi path, posterior-marginal confidences) in numpy. Safe to call from several threads: an onnxruntime
session and a tokenizers tokenizer may be shared, and the parser keeps no per-call state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from nlu.data.alignment import (
    WORD_SPLIT_RULE,
    Item,
    assemble_prediction,
    first_subtoken_mask,
    items_from_texts,
    items_from_words,
    predict_in_batches,
)
from nlu.data.lexicon import Gazetteer, extra_inputs
from nlu.errors import ArtifactError
from nlu.modules import crf_numpy
from nlu.prediction import Prediction
from nlu.runtime.manifest import read_manifest

_MASKED = -1e4  # as in the torch models: UNK is never predicted


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Parser:
    """Parse utterances with an artifact directory written by ``nlu export``."""

    def __init__(
        self, artifact_dir: Path, manifest: dict, session: ort.InferenceSession, tokenizer: Tokenizer
    ):
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.session = session
        self.tokenizer = tokenizer
        self.intent_labels: list[str] = manifest["intent_labels"]
        self.slot_labels: list[str] = manifest["slot_labels"]
        self.max_seq_length: int = int(manifest["max_seq_length"])
        self.input_names = [i.name for i in session.get_inputs()]
        self.pad_id = int(manifest.get("pad_token_id", 0))
        self.gazetteer = Gazetteer.load(artifact_dir) if manifest.get("lexicon_file") else None
        decoding = manifest.get("decoding", {"type": "softmax"})
        self.crf = None
        if decoding["type"] == "crf":
            self.crf = crf_numpy.NumpyCRF(
                decoding["transitions"],
                decoding["start_transitions"],
                decoding["end_transitions"],
                allowed_start=decoding.get("allowed_start"),
                allowed=decoding.get("allowed_transitions"),
            )
        if manifest.get("word_split") != WORD_SPLIT_RULE:
            raise ArtifactError(
                f"{artifact_dir}: word splitting rule {manifest.get('word_split')!r} is not {WORD_SPLIT_RULE!r}, the "
                "one this runtime implements; use the nlu version that exported it"
            )

    @classmethod
    def load(cls, artifact_dir: str | Path, num_threads: int | None = None, verify: bool = True) -> Parser:
        """Load and (with ``verify``) check every file's SHA-256 against the manifest.

        ``num_threads``: onnxruntime intra-op threads (default: onnxruntime's choice, all cores).
        """
        artifact_dir = Path(artifact_dir)
        manifest = read_manifest(artifact_dir, verify=verify)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(
                str(artifact_dir / manifest["model_file"]), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(artifact_dir / manifest["tokenizer_file"]))
        except Exception as err:  # onnxruntime and tokenizers raise their own types for a damaged file
            raise ArtifactError(f"{artifact_dir}: could not load the model or tokenizer: {err}") from None
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest["max_seq_length"]))
        return cls(artifact_dir, manifest, session, tokenizer)

    def parse(self, text: str) -> Prediction:
        return self.parse_batch([text])[0]

    def parse_batch(self, texts: str | Sequence[str], batch_size: int = 32) -> list[Prediction]:
        return predict_in_batches(items_from_texts(texts), batch_size, self._parse_batch)

    def parse_words(self, words_batch: Sequence[Sequence[str]], batch_size: int = 32) -> list[Prediction]:
        """Pre-tokenised input (evaluation): the words are joined with single spaces for the offsets."""
        return predict_in_batches(items_from_words(words_batch), batch_size, self._parse_batch)

    def logits(
        self, words_batch: Sequence[Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray, list[list[int | None]]]:
        """Raw outputs for a batch: intent_logits (batch, num_intents), slot_logits (batch, seq_len, num_tags),
        and the word index of every sub-token. Used by the export parity check."""
        encodings = self.tokenizer.encode_batch([list(w) for w in words_batch], is_pretokenized=True)
        width = max(len(e.ids) for e in encodings)
        batch = len(encodings)
        feeds = {
            "input_ids": np.full((batch, width), self.pad_id, dtype=np.int64),
            "attention_mask": np.zeros((batch, width), dtype=np.int64),
            "token_type_ids": np.zeros((batch, width), dtype=np.int64),
        }
        for b, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][b, :n] = e.ids
            feeds["attention_mask"][b, :n] = 1
            feeds["token_type_ids"][b, :n] = e.type_ids
        word_ids = [list(e.word_ids) + [None] * (width - len(e.ids)) for e in encodings]
        feeds.update(extra_inputs(self.input_names, words_batch, word_ids, width, self.gazetteer))
        outputs = self.session.run(None, {name: feeds[name] for name in self.input_names})
        return outputs[0], outputs[1], [list(e.word_ids) for e in encodings]

    def _parse_batch(self, items: list[Item]) -> list[Prediction]:
        intent_logits, slot_logits, word_ids = self.logits([words for _, words, _ in items])
        intent_logits = intent_logits.astype(np.float64)
        intent_logits[:, 0] = _MASKED
        intent_probs = _softmax(intent_logits)
        slot_logits[..., 0] = _MASKED  # float32 as computed; NumpyCRF decodes in float32 too
        predictions = []
        for b, (text, words, offsets) in enumerate(items):
            positions = [p for p, keep in enumerate(first_subtoken_mask(word_ids[b])) if keep]
            emissions = slot_logits[b, positions]
            if self.crf is not None:
                path, confidences = self.crf.decode(emissions)
            else:
                probs = _softmax(emissions)
                path = probs.argmax(-1).tolist()
                confidences = probs.max(-1).tolist()
            predictions.append(
                assemble_prediction(
                    text,
                    words,
                    offsets,
                    word_ids[b],
                    intent_probs[b],
                    path,
                    confidences,
                    self.intent_labels,
                    self.slot_labels,
                )
            )
        return predictions
