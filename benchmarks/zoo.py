"""The model zoo that ``benchmarks.results`` trains: which recipes, their names on the page, published figures.

The models are the recipes ``recipes/<dataset>/<name>.yaml`` (and, for a page rendered from stored records, the
recipes those records name): a new architecture's recipe is measured and shown without editing any script.
``MODEL_NAMES`` only gives known recipes a human name and their row order; any other recipe is named by its
``description:`` and comes after them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from benchmarks.common import REPO

RECIPES = REPO / "recipes"
# Recipes that other benchmarks train, each on data of its own making; results.py leaves them to those.
OWNED_ELSEWHERE = {
    "zeroshot": "benchmarks.zeroshot",
    "crosslingual": "benchmarks.crosslingual",
    "crosslingual_codeswitch": "benchmarks.crosslingual",
    "smollm2_crf": "benchmarks.llm",  # a decoder LLM backbone: the LLM page's fine-tuned table
}
# Human names on the page, in the order of its rows.
MODEL_NAMES = {
    "jointbert": "JointBERT",
    "jointbert_crf": "JointBERT+CRF",
    "jointidsf": "intent-slot attention (JointIDSF)",
    "slotrefine": "SlotRefine",
    "slotrefine_paper": "SlotRefine, refiner in both passes",
    "ctran": "CTRAN",
    "ctran_frozen": "CTRAN, MiniLM as frozen word embeddings",
    "jointbert_crf_lexicon": "JointBERT+CRF + gazetteers",
    "contextual": "contextual slot filling (Veyseh et al. 2020)",
    "jointbert_crf_noise": "JointBERT+CRF, typed-text copies (data.augment.noise)",
    "jointbert_crf_small": "JointBERT+CRF, 3 of 6 layers, distilled from the 6-layer model",
    "jointbert_crf_mpnet": "JointBERT+CRF, MPNet-base (109.5M)",
    "jointbert_crf_distilled": "JointBERT+CRF, distilled from MPNet-base, typed-text copies",
    "jointbert_crf_distilled_seeds": "JointBERT+CRF, distilled from five MiniLM models, typed-text copies",
    # trained on all of SNIPS here (its trained domains' slot F1); benchmarks.zeroshot trains it across domains
    "zeroshot_qa": "zero-shot slot types as questions (Yu et al. 2021)",
}
DATASET_ORDER = ("atis", "snips", "massive", "xsid")
# Published reference points: (data set, model, source, (intent accuracy, slot F1, exact match)); a fraction,
# None where the source gives none, or text where it gives the figure only roughly.
PUBLISHED = [
    ("atis", "JointBERT+CRF, BERT-base (110M)", "Chen et al. 2019", (0.979, 0.960, 0.886)),
    ("snips", "JointBERT+CRF, BERT-base (110M)", "Chen et al. 2019", (0.984, 0.967, 0.926)),
    ("atis", "SlotRefine + BERT", "Wu et al. 2020", (None, 0.9616, None)),
    ("snips", "SlotRefine + BERT", "Wu et al. 2020", (None, 0.9705, None)),
    ("atis", "CTRAN, BERT-large (340M)", "Rafiepour & Salimi Sartakhti 2023", (0.9807, 0.9846, None)),
    ("snips", "CTRAN, BERT-large (340M)", "Rafiepour & Salimi Sartakhti 2023", (0.9942, 0.9830, None)),
    ("atis", "contextual slot filling", "Veyseh et al. 2020", (None, "about 96", None)),
    ("snips", "contextual slot filling", "Veyseh et al. 2020", (None, "93.6", None)),
    ("massive", "XLM-R base, en-US", "FitzGerald et al. 2023", (0.88, 0.84, None)),
    ("xsid", "mDeBERTa, English", "as given in issue 4", (0.991, 0.951, 0.900)),
]


def recipes(dataset: str) -> list[str]:
    """The recipe names under ``recipes/<dataset>/`` that results.py trains, in row order."""
    names = [p.stem for p in (RECIPES / dataset).glob("*.yaml") if p.stem not in OWNED_ELSEWHERE]
    return sorted(names, key=row_order)


def stem(recipe: str) -> str:
    """``recipes/atis/jointbert.yaml`` -> ``jointbert``."""
    return Path(recipe).stem


def row_order(name: str) -> tuple[int, str]:
    """Known recipes in ``MODEL_NAMES`` order, then the others by name."""
    order = list(MODEL_NAMES)
    return (order.index(name), "") if name in order else (len(order), name)


def dataset_order(dataset: str) -> tuple[int, str]:
    order = list(DATASET_ORDER)
    return (order.index(dataset), "") if dataset in order else (len(order), dataset)


def model_name(recipe: str) -> str:
    """The row label of a recipe (a path such as ``recipes/atis/x.yaml``, or a name): ``MODEL_NAMES``, else the
    recipe's ``description:`` without its trailing `` on <dataset>``, else the recipe's name."""
    name = stem(recipe)
    return MODEL_NAMES.get(name) or _description(str(recipe)) or name


@functools.lru_cache
def _description(recipe: str) -> str | None:
    import yaml

    path = REPO / recipe if recipe.endswith(".yaml") else None
    if path is None or not path.is_file():
        return None
    text = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("description")
    if not isinstance(text, str):
        return None
    suffix = f" on {path.parent.name}"
    return text[: -len(suffix)] if text.endswith(suffix) else text


def show_published(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else f"{100 * value:.2f}"
