"""Every shipped recipe validates; a bad recipe or override is reported with file, dotted key and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu.data.label_files import load_label_file
from nlu.data.registry import read_card
from nlu.errors import RecipeError
from nlu.generation.recipe import dump_generation_recipe, load_generation_recipe, recipe_task
from nlu.training.recipe import Recipe, apply_overrides, dump_recipe, load_recipe, parse_override

REPO = Path(__file__).resolve().parents[1]
ALL_RECIPES = sorted((REPO / "recipes").rglob("*.yaml"))
GENERATOR_RECIPES = [p for p in ALL_RECIPES if recipe_task(p) is not None]
RECIPES = [p for p in ALL_RECIPES if p not in GENERATOR_RECIPES]


def _write(tmp_path: Path, data: dict, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _problems(path: Path, overrides: list[str] | None = None) -> list[str]:
    with pytest.raises(RecipeError) as err:
        load_recipe(path, overrides)
    return err.value.problems


def test_there_are_recipes():
    assert len(RECIPES) >= 5
    assert REPO / "recipes" / "quickstart.yaml" in RECIPES


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(REPO)))
def test_recipe_validates(path: Path, tmp_path: Path):
    recipe = load_recipe(path)
    assert isinstance(recipe, Recipe)
    if recipe.data.dataset is not None:
        read_card(recipe.data.dataset)  # names a data set that has a card
    if recipe.model.prompting is not None:
        load_label_file(recipe.model.prompting.labels)  # a label file, or a packaged one's name
    # what a run directory stores (recipe.yaml) loads back to the same recipe
    saved = tmp_path / "recipe.yaml"
    saved.write_text(dump_recipe(recipe), encoding="utf-8")
    assert load_recipe(saved) == recipe


@pytest.mark.parametrize("path", GENERATOR_RECIPES, ids=lambda p: str(p.relative_to(REPO)))
def test_generator_recipe_validates(path: Path, tmp_path: Path):
    recipe = load_generation_recipe(path)
    saved = tmp_path / "recipe.yaml"
    saved.write_text(dump_generation_recipe(recipe), encoding="utf-8")
    assert load_generation_recipe(saved) == recipe


@pytest.mark.parametrize("path", ALL_RECIPES, ids=lambda p: str(p.relative_to(REPO)))
def test_recipe_header_shows_its_own_train_command(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header, "a recipe starts with a comment saying what it trains"
    assert any(f"nlu train {path.relative_to(REPO)}" in line for line in header)
    assert any("--set" in line for line in header), "and an override example"


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    path = _write(tmp_path, {"data": {"dataset": "demo"}, "training": {"learnig_rate": 1e-4}})
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}: training.learnig_rate: unknown key")
    assert "did you mean 'learning_rate'?" in problem


def test_unknown_top_level_key_is_suggested_too(tmp_path):
    path = _write(tmp_path, {"data": {"dataset": "demo"}, "trainng": {"epochs": 2}})
    (problem,) = _problems(path)
    assert f"{path}: trainng: unknown key; did you mean 'training'?" == problem


def test_unknown_key_without_close_match_lists_known_keys(tmp_path):
    path = _write(tmp_path, {"data": {"dataset": "demo"}, "model": {"zzz": 1}})
    (problem,) = _problems(path)
    assert "model.zzz: unknown key; known keys here:" in problem
    assert "backbone" in problem and "use_crf" in problem


def test_wrong_type_names_key_and_bad_value(tmp_path):
    path = _write(tmp_path, {"data": {"dataset": "demo"}, "training": {"learning_rate": "fast"}})
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}: training.learning_rate: ")
    assert "number" in problem and "got 'fast'" in problem


def test_out_of_range_and_bad_choice(tmp_path):
    path = _write(
        tmp_path,
        {"data": {"dataset": "demo"}, "training": {"epochs": 0, "metric": "accuracy"}},
    )
    problems = _problems(path)
    assert any(
        "training.epochs:" in p and "greater than or equal to 1" in p and "got 0" in p for p in problems
    )
    assert any("training.metric:" in p and "exact_match" in p and "got 'accuracy'" in p for p in problems)


def test_all_problems_reported_at_once(tmp_path):
    path = _write(
        tmp_path,
        {
            "data": {"datset": "demo"},
            "model": {"use_crf": "maybe"},
            "training": {"learning_rate": "fast", "epochs": 3},
        },
    )
    problems = _problems(path)
    keys = [p.split(": ")[1] for p in problems]
    assert sorted(keys) == sorted(["data.dataset", "data.datset", "model.use_crf", "training.learning_rate"])
    assert all(p.startswith(f"{path}: ") for p in problems)
    assert any("data.dataset: required key is missing" in p for p in problems)
    assert any("data.datset: unknown key; did you mean 'dataset'?" in p for p in problems)


def test_dev_split_must_differ_from_train(tmp_path):
    path = _write(tmp_path, {"data": {"dataset": "demo", "dev_split": "train"}})
    (problem,) = _problems(path)
    assert "data.dev_split must differ from data.train_split" in problem


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"data: [unclosed\n", "not valid YAML"),
        (b"- just\n- a list\n", "expected a mapping"),
        (b"data:\n  dataset: caf\xe9\n", "not UTF-8"),
    ],
)
def test_unreadable_recipe(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}: ") and expected in problem


def test_missing_recipe_file(tmp_path):
    (problem,) = _problems(tmp_path / "nope.yaml")
    assert "no such recipe file" in problem


# --- --set overrides -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("training.epochs=3", ["training", "epochs"], 3),
        ("training.learning_rate=2.5e-4", ["training", "learning_rate"], 2.5e-4),
        ("model.use_crf=false", ["model", "use_crf"], False),
        ("model.use_crf=true", ["model", "use_crf"], True),
        ("training.early_stopping_patience=null", ["training", "early_stopping_patience"], None),
        ("data.dataset=atis", ["data", "dataset"], "atis"),
        ("data.dataset=a=b", ["data", "dataset"], "a=b"),  # only the first '=' separates
        ("data.columns={tokens: words}", ["data", "columns"], {"tokens": "words"}),
        ("description=", ["description"], ""),
    ],
)
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


def test_overrides_reach_nested_keys_and_create_sections():
    data = {"data": {"dataset": "demo"}, "training": {"epochs": 8}}
    out = apply_overrides(data, ["training.epochs=2", "model.use_crf=false", "data.columns.tokens=words"])
    assert out["training"] == {"epochs": 2}
    assert out["model"] == {"use_crf": False}
    assert out["data"] == {"dataset": "demo", "columns": {"tokens": "words"}}


def test_overrides_are_validated_like_the_file():
    path = REPO / "recipes" / "quickstart.yaml"
    recipe = load_recipe(path, ["training.epochs=3", "training.learning_rate=1e-5", "model.use_crf=false"])
    assert recipe.training.epochs == 3
    assert recipe.training.learning_rate == pytest.approx(1e-5)  # '1e-5' is a YAML string; pydantic reads it
    assert recipe.model.use_crf is False
    (problem,) = _problems(path, ["training.learning_rate=fast"])
    assert problem.startswith(f"{path}: training.learning_rate:") and "got 'fast'" in problem
    (problem,) = _problems(path, ["training.epohcs=3"])
    assert "did you mean 'epochs'?" in problem


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("training.epochs", "expected dotted.key=value"),
        ("training.epochs.value=3", "epochs is not a section"),
        ("training.epochs=[1", "not valid YAML"),
    ],
)
def test_bad_override(override, expected):
    with pytest.raises(RecipeError) as err:
        load_recipe(REPO / "recipes" / "quickstart.yaml", [override])
    (problem,) = err.value.problems
    assert problem.startswith(f"--set {override}") and expected in problem


def test_a_key_written_twice_is_an_error(tmp_path):
    """A second data: block silently switched the data set (YAML keeps the last key)."""
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "data: {dataset: demo}\ntraining: {epochs: 2}\ndata:\n  dataset: atis\n", encoding="utf-8"
    )
    (problem,) = _problems(path)
    assert problem.startswith(f"{path}: line 3: the key 'data' is written twice") and "line 1" in problem


def test_a_nested_key_written_twice_is_an_error(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "data: {dataset: demo}\ntraining:\n  epochs: 2\n  seed: 1\n  epochs: 5\n", encoding="utf-8"
    )
    (problem,) = _problems(path)
    assert "line 5: the key 'epochs' is written twice" in problem


@pytest.mark.parametrize(
    ("key", "value"),
    [("epochs", True), ("learning_rate", True), ("head_learning_rate", False), ("max_steps", True)],
)
def test_a_boolean_where_a_number_belongs_is_an_error(tmp_path, key, value):
    """`epochs: true` was read as 1."""
    path = _write(tmp_path, {"data": {"dataset": "demo"}, "training": {key: value}})
    (problem,) = _problems(path)
    assert problem == f"{path}: training.{key}: expected a number, not true/false, got {value}"


def test_booleans_stay_valid_where_booleans_belong(tmp_path):
    path = _write(
        tmp_path, {"data": {"dataset": "demo"}, "model": {"use_crf": True, "freeze_embeddings": False}}
    )
    assert load_recipe(path).model.use_crf is True


def test_a_boolean_in_a_list_of_numbers_is_an_error(tmp_path):
    path = _write(
        tmp_path,
        {
            "data": {"dataset": "demo"},
            "model": {"architecture": "ctran", "ctran": {"kernel_sizes": [3, True]}},
        },
    )
    (problem,) = _problems(path)
    assert "model.ctran.kernel_sizes: expected a number, not true/false" in problem
