"""The one record type every reader produces and every model consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Example:
    """One utterance with its word-level BIO slot tags and its intent.

    ``tokens`` and ``tags`` have the same length; ``intent`` may be a multi-intent label such as
    ``atis_flight#atis_airfare``, kept whole.
    """

    id: str
    tokens: list[str]
    tags: list[str]
    intent: str
    lang: str = "en"
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["meta"]:
            d.pop("meta")
        return d
