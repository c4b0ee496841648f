"""``python -m benchmarks.serving``: see ``benchmarks/serving/__init__.py``."""

from benchmarks.serving.cli import main

main()
