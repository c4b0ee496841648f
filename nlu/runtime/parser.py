"""``OnnxParser``: an exported model on onnxruntime + tokenizers + numpy, no torch.

Gives the same :class:`~nlu.prediction.Prediction` as ``nlu predict`` on the torch model: the same word
splitting, model inputs and decoding (``nlu.parser``, ``nlu.decoding``: the torch model's parser uses the same
functions). Safe to call from several threads: an onnxruntime session and a tokenizers tokenizer may be shared,
and the parser keeps no per-call state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from nlu.data.alignment import WORD_SPLIT_RULES
from nlu.data.lexicon import Gazetteer
from nlu.decoding import slot_decoder
from nlu.errors import ArtifactError, DamagedArtifact, NLUError
from nlu.parser import LogitsParser, encode_words
from nlu.rules import ParseRules
from nlu.runtime.manifest import read_manifest


class OnnxParser(LogitsParser):
    """Parse utterances with an artifact directory written by ``nlu export`` (the :class:`nlu.parser.Parser`
    verbs: ``parse``, ``parse_batch``, ``parse_words``)."""

    def __init__(
        self,
        artifact_dir: Path,
        manifest: dict,
        session: ort.InferenceSession,
        tokenizer: Tokenizer,
        batch_size: int = 32,
    ):
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.session = session
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.intent_labels: list[str] = manifest["intent_labels"]
        self.slot_labels: list[str] = manifest["slot_labels"]
        self.max_seq_length: int = int(manifest["max_seq_length"])
        self.input_names = [i.name for i in session.get_inputs()]
        self.pad_id = int(manifest.get("pad_token_id", 0))
        self.gazetteer = Gazetteer.load(artifact_dir) if manifest.get("lexicon_file") else None
        self.crf = slot_decoder(manifest.get("decoding", {"type": "softmax"}))
        try:  # only the files the manifest names (and hashes): a stray file beside them is never read
            self.rules = ParseRules.load(
                artifact_dir, manifest.get("synonyms_file"), manifest.get("regexes_file"), required=True
            )
        except NLUError as err:
            raise DamagedArtifact(f"{artifact_dir}: {err}; export the model again") from None
        self.word_split: str = manifest.get("word_split")
        if self.word_split not in WORD_SPLIT_RULES:
            raise ArtifactError(
                f"{artifact_dir}: word splitting rule {self.word_split!r} is not one this runtime implements "
                f"({', '.join(WORD_SPLIT_RULES)}); use the nlu version that exported it"
            )

    @classmethod
    def load(
        cls,
        artifact_dir: str | Path,
        num_threads: int | None = None,
        verify: bool = True,
        batch_size: int = 32,
        fallback_threshold: float | None = None,
        ambiguity_threshold: float | None = None,
    ) -> OnnxParser:
        """Load and (with ``verify``) check every file's SHA-256 against the manifest.

        ``num_threads``: onnxruntime intra-op threads (default: onnxruntime's choice, all cores);
        ``batch_size``: utterances per session run in ``parse_batch`` and ``parse_words``;
        ``fallback_threshold``/``ambiguity_threshold``: answer ``nlu_fallback`` below that intent confidence, or
        when the top two intents are closer than that (Rasa's FallbackClassifier, :mod:`nlu.rules`); None: off.
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
            raise DamagedArtifact(f"{artifact_dir}: could not load the model or tokenizer: {err}") from None
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest["max_seq_length"]))
        parser = cls(artifact_dir, manifest, session, tokenizer, batch_size=batch_size)
        parser.rules = parser.rules.with_fallback(fallback_threshold, ambiguity_threshold)
        return parser

    def logits(
        self, words_batch: Sequence[Sequence[str]]
    ) -> tuple[np.ndarray, np.ndarray, list[list[int | None]]]:
        """Raw outputs for a batch: intent_logits (batch, num_intents), slot_logits (batch, seq_len, num_tags),
        and the word index of every sub-token. Used by the export parity check too."""
        feeds, word_ids = encode_words(
            self.tokenizer, words_batch, self.input_names, self.pad_id, self.gazetteer
        )
        intent_logits, slot_logits = self.session.run(None, feeds)[:2]
        return intent_logits, slot_logits, word_ids


Parser = OnnxParser  # the name this class had before the Parser protocol (nlu.parser.Parser)
