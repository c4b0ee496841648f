"""``python -m benchmarks [PAGE ...]``: render docs pages again from their records (``docs/<page>.json``).

Measures nothing and changes no record: use it after a change to a page's layout, or to refresh a page that
shows another benchmark's figures (docs/results.md shows docs/llm.json, docs/generation.json and
docs/slotrefine_passes.json; docs/llm.md shows docs/results.json) after that benchmark ran.
"""

from __future__ import annotations

import argparse

from benchmarks import crosslingual, data_stats, generation, llm, results, robustness, zeroshot
from benchmarks.common import rerender
from benchmarks.serving import report as serving

# Each page and the module that writes it: the only one.
WRITERS = {
    module.PAGE: module
    for module in (results, llm, generation, crosslingual, zeroshot, data_stats, serving, robustness)
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", metavar="PAGE", help=f"{', '.join(WRITERS)} (default: all)")
    args = parser.parse_args()
    unknown = [page for page in args.pages if page not in WRITERS]
    if unknown:
        parser.error(f"no such page: {', '.join(unknown)}; the pages are {', '.join(WRITERS)}")
    for module in [WRITERS[page] for page in args.pages] or list(WRITERS.values()):
        print(rerender(module.PAGE, module.render))


if __name__ == "__main__":
    main()
