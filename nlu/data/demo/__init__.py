"""The packaged DEMO data set: a small generated smart-home + travel assistant corpus for the quickstart.

``DEMO_DIR`` holds ``train.jsonl``, ``dev.jsonl`` and ``test.jsonl`` (regenerate them with
``python -m nlu.data.demo.build``); its data card is ``nlu/data/cards/demo.md``.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR: Path = Path(__file__).resolve().parent

__all__ = ["DEMO_DIR"]
