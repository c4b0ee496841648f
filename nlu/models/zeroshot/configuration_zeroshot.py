"""Configuration of the zero-shot joint model (Gangadharaiah & Narayanaswamy 2022, "Zero-Shot Learning for Joint
Intent and Slot Labeling"): intents and slot types are scored by similarity to an encoding of their names and
descriptions, so the label set can change after training."""

from __future__ import annotations

from typing import get_args

from nlu.models.configuration_common import JointConfig
from nlu.models.zeroshot.options import ZeroShotOptions
from nlu.schema import default

UNK = "UNK"
DEFAULT_UNSEEN_INTENT_BONUS = default(ZeroShotOptions, "unseen_intent_bonus")
DEFAULT_UNSEEN_SLOT_BONUS = default(ZeroShotOptions, "unseen_slot_bonus")
INTENT_SCORING = get_args(ZeroShotOptions.model_fields["intent_scoring"].annotation)


def check_unseen_bonus(name: str, value: float) -> None:
    """Raises ValueError unless ``value`` is a cosine bonus in [0, 2]."""
    if not 0.0 <= float(value) <= 2.0:
        raise ValueError(f"{name} is a cosine added to new labels' scores, in [0, 2]; got {value}")


def slot_types_of(slot_labels: list[str]) -> list[str]:
    """The slot types of a BIO vocabulary in order of first appearance: ``["UNK", "O", "B-a", "I-a", "B-b"]``
    -> ``["a", "b"]``. Raises ValueError on a tag that is neither ``UNK`` (index 0 only), ``O``, ``B-X`` nor
    ``I-X``."""
    if not slot_labels or slot_labels[0] != UNK:
        raise ValueError(f"slot_labels must start with {UNK!r}, got {slot_labels[:1]}")
    types: list[str] = []
    for tag in slot_labels[1:]:
        if tag == "O":
            continue
        if tag[:2] not in ("B-", "I-") or len(tag) < 3:
            raise ValueError(f"slot label {tag!r} is not O, B-<type> or I-<type>")
        if tag[2:] not in types:
            types.append(tag[2:])
    return types


class ZeroShotConfig(JointConfig):
    """Everything needed to rebuild the model without the original backbone files, label texts included.

    Args:
        The shared arguments of :class:`JointConfig`, except that ``use_crf`` must be False: a CRF's
        transition matrix is tied to the tag set it was trained on and could not score tags added after training.
        embed_dim: size of the shared space that utterances, tokens and labels are projected into.
        intent_descriptions: intent name -> description (``""`` for none), for every intent but ``UNK``.
        slot_descriptions: slot type -> description (``""`` for none), for every slot type.
        label_max_length: sub-tokens per label text, special tokens included; longer texts are truncated.
        label_token_ids: the tokenised label texts, the intents (vocabulary order, ``UNK`` left out) then the slot
            types (order of first appearance in ``slot_labels``); written by the builder and by ``set_labels``,
            so that a saved model encodes its labels without a tokenizer. None: tokenise when first needed.
        trained_intents, trained_slot_types: the labels the model was trained on. None: the current ``intent_labels``
            and slot types (right for a model saved by training, which is every model saved before this field).
        unseen_intent_bonus, unseen_slot_bonus: calibrated stacking (Chao et al. 2016) for generalised zero-shot
            prediction: a cosine added to the score of every intent (slot type) that is not a trained one.
            Training pulls the heads' outputs towards the labels they saw, so with ``intent_scoring: head`` a new
            intent loses to a close trained one (a held-out AddToPlaylist to PlayMusic) unless it gets a bonus.
            0 turns it off.
        intent_scoring: where intents are scored at prediction time. ``head``: the trained heads (the projected
            first token against the projected label texts). ``encoder``: the mean-pooled encoder states of the
            utterance against those of the label texts, with no projection. The heads fit the trained intents
            best but map a new intent close to a trained one; the encoder space below them keeps its meaning
            (as features before a projection head do, Chen et al. 2020), and finds held-out SNIPS intents that
            the heads miss (docs/zeroshot.md). ``auto`` (default): ``encoder`` when the label set has an intent
            that training never saw, else ``head``. Training always trains the heads.
    """

    model_type = "nlu-zeroshot"

    def __init__(
        self,
        embed_dim: int = default(ZeroShotOptions, "embed_dim"),
        intent_descriptions: dict[str, str] | None = None,
        slot_descriptions: dict[str, str] | None = None,
        label_max_length: int = default(ZeroShotOptions, "label_max_length"),
        label_token_ids: list[list[int]] | None = None,
        trained_intents: list[str] | None = None,
        trained_slot_types: list[str] | None = None,
        unseen_intent_bonus: float = DEFAULT_UNSEEN_INTENT_BONUS,
        unseen_slot_bonus: float = DEFAULT_UNSEEN_SLOT_BONUS,
        intent_scoring: str = default(ZeroShotOptions, "intent_scoring"),
        **kwargs,
    ):
        if kwargs.get("use_crf"):
            raise ValueError(
                "use_crf must be false for the zero-shot model: CRF transitions are learned per training tag "
                "and could not score slot types added after training"
            )
        super().__init__(**kwargs)
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be at least 1, got {embed_dim}")
        if label_max_length < 3:
            raise ValueError(f"label_max_length must be at least 3 sub-tokens, got {label_max_length}")
        if self.intent_labels[0] != UNK:
            raise ValueError(f"intent_labels must start with {UNK!r}, got {self.intent_labels[:1]}")
        intents, types = self.intent_labels[1:], slot_types_of(self.slot_labels)
        self.intent_descriptions = _descriptions("intent_descriptions", intent_descriptions, intents)
        self.slot_descriptions = _descriptions("slot_descriptions", slot_descriptions, types)
        if label_token_ids is not None and len(label_token_ids) != len(intents) + len(types):
            raise ValueError(
                f"label_token_ids holds {len(label_token_ids)} label texts; the labels need "
                f"{len(intents)} intents + {len(types)} slot types"
            )
        self.embed_dim = int(embed_dim)
        self.label_max_length = int(label_max_length)
        self.label_token_ids = None if label_token_ids is None else [list(ids) for ids in label_token_ids]
        self.trained_intents = list(intents if trained_intents is None else trained_intents)
        self.trained_slot_types = list(types if trained_slot_types is None else trained_slot_types)
        check_unseen_bonus("unseen_intent_bonus", unseen_intent_bonus)
        check_unseen_bonus("unseen_slot_bonus", unseen_slot_bonus)
        self.unseen_intent_bonus = float(unseen_intent_bonus)
        self.unseen_slot_bonus = float(unseen_slot_bonus)
        if intent_scoring not in INTENT_SCORING:
            raise ValueError(
                f"intent_scoring must be one of {', '.join(INTENT_SCORING)}; got {intent_scoring!r}"
            )
        self.intent_scoring = intent_scoring


def _descriptions(field: str, given: dict[str, str] | None, names: list[str]) -> dict[str, str]:
    """name -> description for exactly ``names``; missing names get ``""``, unknown names are refused."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"{field} names labels that are not in the vocabulary: {', '.join(unknown)}")
    bad = sorted(name for name, text in given.items() if not isinstance(text, str))
    if bad:
        raise ValueError(f"{field}: descriptions must be strings (see {', '.join(bad)})")
    return {name: given.get(name, "") for name in names}
