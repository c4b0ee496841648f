"""Data cards: every header is complete and machine-readable, names resolve through it (variants, sources in
order, fallbacks), and, where the shared data is at hand, the files agree with the cards."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nlu.data.formats import get_format
from nlu.data.jsonl import read as read_jsonl
from nlu.data.registry import cards_dir, known_names, load_split, read_card, resolve, split_file
from nlu.data.stats import dataset_stats
from nlu.errors import DataError

REQUIRED = ("name", "title", "source", "version", "licence", "citation", "languages", "splits", "num_intents")
CARDS = known_names()


def test_the_promised_cards_exist():
    assert {"atis", "snips", "massive", "xsid", "media", "multiatis", "demo"} <= set(CARDS)


@pytest.mark.parametrize("name", CARDS)
def test_card_header_is_complete(name):
    card = read_card(name)
    missing = [key for key in REQUIRED if key not in card]
    assert not missing, f"{name}: header lacks {missing}"
    assert card["name"] == name
    for entry in card.get("sources") or []:
        get_format(entry["format"])
        assert "{split}" in entry["path"] or "{native_split}" in entry["path"] or entry["format"] == "massive"
    if card.get("variants"):
        assert all(isinstance(v, str) for v in card["variants"]), "quote variants YAML would read as booleans"
        assert card.get("default_variant") in card["variants"]
    download = card.get("download")
    if download:
        hashes = list((download.get("files") or {}).values()) or [download.get("sha256")]
        assert all(h is None or re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
        assert download.get("to")


@pytest.fixture
def fake_root(tmp_path, monkeypatch) -> Path:
    """A data root and cards folder with one card, 'toy', whose native files exist for some languages only."""
    root, cards = tmp_path / "data", tmp_path / "cards"
    (root / "toy" / "native").mkdir(parents=True)
    (root / "toy" / "en").mkdir(parents=True)
    cards.mkdir()
    (cards / "toy.md").write_text(
        '---\nname: toy\nvariants: [en, "no"]\ndefault_variant: en\nsources:\n'
        "  - format: conll\n    path: toy/native/{variant}.{native_split}.conll\n    split_names: {dev: valid}\n"
        "    id_prefix: toy-{variant}-{split}\n    lang: '{variant}'\n"
        "  - format: jsonl\n    path: toy/{variant}/{split}.jsonl\n"
        "download:\n  base_url: http://127.0.0.1:9/\n  to: toy/native\n  files: {en.valid.conll: null}\n---\n",
        encoding="utf-8",
    )
    conll = "# id = 7\n# intent = greet\n1\thello\tgreet\tO\n2\tOslo\tgreet\tB-city\n\n"
    (root / "toy" / "native" / "en.valid.conll").write_text(conll, encoding="utf-8")
    (root / "toy" / "native" / "no.valid.conll").write_text(conll.replace("hello", "hei"), encoding="utf-8")
    (root / "toy" / "en" / "train.jsonl").write_text(
        '{"id": "t0", "tokens": ["hi"], "tags": ["O"], "intent": "greet"}\n', encoding="utf-8"
    )
    monkeypatch.setenv("NLU_DATA_DIR", str(root))
    monkeypatch.setenv("NLU_CARDS_DIR", str(cards))
    return root


def test_sources_are_tried_in_order_per_split(fake_root):
    source = resolve("toy")
    assert (source.name, source.variant) == ("toy", "en")
    assert split_file(source, "dev")[1] == "conll"
    assert split_file(source, "train")[1] == "jsonl"  # no native train: the second source
    assert split_file(source, "test") is None
    dev = load_split(source, "dev")
    assert dev[0].id == "toy-en-dev-00000:7" and dev[0].tags == ["O", "B-city"]


def test_variant_selects_files_and_language(fake_root):
    dev = load_split("toy:no", "dev")
    assert dev[0].tokens == ["hei", "Oslo"] and dev[0].lang == "no"
    assert split_file(resolve("toy:no"), "train") is None


def test_unknown_variant_suggests_the_closest(fake_root):
    with pytest.raises(DataError, match="Did you mean toy:en"):
        resolve("toy:enn")


def test_missing_split_names_every_path_tried(fake_root):
    with pytest.raises(DataError, match="toy.native.en.test.conll.*toy.en.test.jsonl"):
        load_split("toy", "test")


def test_missing_data_says_how_to_get_it(fake_root):
    for path in (fake_root / "toy").rglob("*.*"):
        path.unlink()
    with pytest.raises(DataError, match="nlu data download toy.*NLU_DATA_DIR"):
        resolve("toy")


def test_unknown_name_suggests_a_card():
    with pytest.raises(DataError, match="Did you mean 'massive'"):
        read_card("masive")


def test_stats_flag_figures_that_differ_from_the_card(fake_root):
    card = Path(os.environ["NLU_CARDS_DIR"]) / "toy.md"
    text = card.read_text(encoding="utf-8").replace(
        "---\nname: toy\n", "---\nname: toy\nsplits: {train: 1, dev: 2}\n"
    )
    card.write_text(text, encoding="utf-8")
    stats = dataset_stats("toy")
    assert stats["card_mismatches"] == ["dev: the card says 2 utterances, the files have 1"]
    assert stats["splits"]["dev"]["format"] == "conll"


# ---------------------------------------------------------------- against ../shared/data, when it is there

DATA = Path(os.environ.get("NLU_DATA_DIR", "/nonexistent"))
needs_data = pytest.mark.skipif(
    not (DATA / "xsid").is_dir(), reason="NLU_DATA_DIR with the shared data not set"
)


@needs_data
@pytest.mark.parametrize("name", ["atis", "snips", "massive", "xsid"])
def test_shared_data_matches_its_card(name, monkeypatch):
    monkeypatch.setenv("NLU_CARDS_DIR", str(cards_dir()))
    stats = dataset_stats(name)
    assert stats["card_mismatches"] == []
    assert set(stats["splits"]) == {"train", "dev", "test"}


@needs_data
@pytest.mark.parametrize("variant", [v for v in read_card("xsid")["variants"] if v != "en"])
def test_every_xsid_language_matches_the_card(variant):
    stats = dataset_stats(f"xsid:{variant}")
    assert stats["card_mismatches"] == []
    assert set(stats["splits"]) == {"dev", "test"}
    assert {f["format"] for f in stats["splits"].values()} == {"conll"}  # read natively


@needs_data
@pytest.mark.parametrize(
    ("name", "split", "normalised"),
    [
        ("massive", "train", "massive/en-US/train.jsonl"),
        ("massive", "test", "massive/en-US/test.jsonl"),
        ("xsid:zh", "test", "xsid/zh/test.jsonl"),
        ("xsid:no", "dev", "xsid/no/dev.jsonl"),
        ("atis", "test", "atis/test.jsonl"),
        ("snips", "dev", "snips/dev.jsonl"),
    ],
)
def test_native_readers_agree_with_the_normalised_copies(name, split, normalised):
    source = resolve(name)
    assert split_file(source, split)[1] != "jsonl", "the native file must be what is read"
    native = [(ex.id, ex.tokens, ex.tags, ex.intent, ex.lang) for ex in load_split(source, split)]
    copy = [(ex.id, ex.tokens, ex.tags, ex.intent, ex.lang) for ex in read_jsonl(DATA / normalised)]
    assert native == copy


@needs_data
@pytest.mark.parametrize(("name", "served"), [("xsid", "xsid/original/xSID-0.7"), ("atis", "atis/original")])
def test_real_cards_download_and_verify_from_a_local_mirror(name, served, tmp_path, monkeypatch):
    """The pinned hashes in the real cards match the published files: serve the shared copies on loopback under
    the card's file names, download with the real card (base_url swapped), and read the result by name."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from nlu.data.download import download

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(DATA / served)))
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    try:
        cards = tmp_path / "cards"
        cards.mkdir()
        text = (cards_dir() / f"{name}.md").read_text(encoding="utf-8")
        base = read_card(name)["download"]["base_url"]
        (cards / f"{name}.md").write_text(
            text.replace(base, f"http://127.0.0.1:{server.server_address[1]}/"), encoding="utf-8"
        )
        monkeypatch.setenv("NLU_CARDS_DIR", str(cards))
        monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "data"))
        target = download(name)
        assert target == tmp_path / "data" / served
        read_back, expected = ("xsid:de", 500) if name == "xsid" else ("atis", 893)
        assert len(load_split(read_back, "test")) == expected
    finally:
        server.shutdown()
        server.server_close()
