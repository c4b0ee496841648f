"""The benchmarks that write the measured pages in ``docs/``: one module per page, run from the checkout root as
``python -m benchmarks.<name>``; ``python -m benchmarks`` renders the pages again from their records. What each
measures, the page and record it writes and what it reads: ``benchmarks/README.md``."""
