"""The contract every LLM backend meets: prompts in, one :class:`Completion` per prompt out, in input order.

A backend never raises for a request that failed or a reply that did not parse: it returns a ``Completion`` whose
``text`` is None and whose ``error`` says what went wrong, so that an evaluation loop can count the failure in its
parse-failure report and go on. Configuration problems (a bad URL, an unknown API) raise
:class:`nlu.errors.ModelError` when the backend is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass
class Completion:
    """One prompt's answer.

    ``text`` is None when the request failed after its retries or the reply did not parse; ``error`` then says
    why. ``cached`` is True when the text came from the disk cache without a request; ``seconds`` is the wall
    time spent on this prompt, retries and back-off included.
    """

    text: str | None
    error: str | None = None
    cached: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.text is not None


@runtime_checkable
class Backend(Protocol):
    """Something that turns prompts into completions; ``name`` identifies it in reports."""

    name: str

    def complete(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int = 64,
        stop: Sequence[str] | None = None,
        system: str | None = None,
    ) -> list[Completion]:
        """One :class:`Completion` per prompt, in the order of ``prompts``; ``max_tokens`` caps each answer's
        length in tokens, ``stop`` ends it at the first of these strings, ``system`` is the system message."""
        ...
