"""Generation data sets by name: their cards, native files found under $NLU_DATA_DIR, and downloads verified
against a loopback server."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nlu_testing import REDIAL_ASSETS

from nlu.data.download import download
from nlu.data.registry import cards_dir, read_card, resolve
from nlu.errors import DataError, RecipeError, RecordError
from nlu.generation.dialogues import read_dialogues
from nlu.generation.recipe import GenerationData, catalogue_file, split_file
from nlu.generation.records import parse_mr, read_records

SHARED = Path(os.environ.get("NLU_DATA_DIR", "../shared/data"))
needs_data = pytest.mark.skipif(not (SHARED / "e2e").is_dir(), reason="needs ../shared/data (NLU_DATA_DIR)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve(folder: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server


def _card_with_url(tmp_path: Path, name: str, old: str, new: str, monkeypatch) -> None:
    cards = tmp_path / "cards"
    cards.mkdir(exist_ok=True)
    text = (cards_dir() / f"{name}.md").read_text(encoding="utf-8")
    (cards / f"{name}.md").write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("NLU_CARDS_DIR", str(cards))
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "data"))


def test_e2e_records_parse_from_the_native_strings():
    assert parse_mr(
        "name[The Eagle], eatType[pub], eatType[restaurant], customer rating[5 out of 5]", "x"
    ) == {
        "name": ["The Eagle"],
        "eatType": ["pub", "restaurant"],
        "customer rating": ["5 out of 5"],
    }
    with pytest.raises(RecordError, match="x: not an E2E record string"):
        parse_mr("name[The Eagle, food[Thai]", "x")


def test_a_bad_csv_row_names_file_and_line(tmp_path):
    bad = tmp_path / "test-fixed.csv"
    bad.write_text(
        'mr,ref\n"name[A], food[Thai]",A serves Thai food.\n"name[B",B.\n"name[C]",\n', encoding="utf-8"
    )
    with pytest.raises(RecordError) as err:
        read_records(bad)
    assert "test-fixed.csv:3: not an E2E record string" in str(err.value)
    assert "test-fixed.csv:4: empty reference text" in str(err.value)


def test_generation_sets_are_not_intent_data():
    with pytest.raises(DataError, match="e2e is a data set for the generators"):
        resolve("e2e")
    assert read_card("redial")["kind"] == "generation"


def test_split_files_are_found_as_the_card_lists_them(tmp_path, monkeypatch):
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path))
    native = tmp_path / "redial" / "original" / "redial_dataset"
    native.mkdir(parents=True)
    shutil.copy(REDIAL_ASSETS / "native.jsonl", native / "train_data.jsonl")
    shutil.copy(REDIAL_ASSETS / "movies.csv", tmp_path / "redial" / "original" / "movies_with_mentions.csv")
    data = GenerationData(dataset="redial")
    assert split_file(data, "train") == native / "train_data.jsonl"  # one folder down, as some zips unpack
    assert catalogue_file(data) == tmp_path / "redial" / "original" / "movies_with_mentions.csv"
    (tmp_path / "redial" / "train.jsonl").write_text((REDIAL_ASSETS / "train.jsonl").read_text())
    assert split_file(data, "train") == tmp_path / "redial" / "train.jsonl"  # the normalized copy first
    with pytest.raises(RecipeError, match="no 'test' split of redial; tried .*nlu data download redial"):
        split_file(data, "test")


def test_redial_download_unpacks_the_official_zip(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "redial_dataset.zip", "w") as z:
        z.write(REDIAL_ASSETS / "native.jsonl", "train_data.jsonl")
        z.write(REDIAL_ASSETS / "native.jsonl", "test_data.jsonl")
        z.write(REDIAL_ASSETS / "movies.csv", "movies_with_mentions.csv")
    server = _serve(served)
    try:
        url = read_card("redial")["download"]["url"]
        local = f"http://127.0.0.1:{server.server_address[1]}/redial_dataset.zip"
        _card_with_url(tmp_path, "redial", url, local, monkeypatch)
        with pytest.raises(DataError, match="no SHA-256 pinned"):
            download("redial")
        target = download("redial", allow_unpinned=True)
    finally:
        server.shutdown()
        server.server_close()
    assert target == tmp_path / "data" / "redial" / "original"
    dialogues = read_dialogues(split_file(GenerationData(dataset="redial"), "train"))
    assert dialogues[0].id == "redial-77"


@needs_data
def test_e2e_download_verifies_the_pinned_hashes(tmp_path, monkeypatch):
    """The card's pinned SHA-256s match the published cleaned CSVs (served here from the shared copies)."""
    served = tmp_path / "served"
    served.mkdir()
    cleaned = SHARED / "e2e" / "original" / "cleaned-data"
    for name in ("devel-fixed.no-ol.csv", "test-fixed.csv"):
        shutil.copy(cleaned / name, served / name)
    with (
        gzip.open(cleaned / "train-fixed.no-ol.csv.gz", "rb") as src,
        (served / "train-fixed.no-ol.csv").open("wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    server = _serve(served)
    try:
        base = read_card("e2e")["download"]["base_url"]
        _card_with_url(tmp_path, "e2e", base, f"http://127.0.0.1:{server.server_address[1]}/", monkeypatch)
        download("e2e")
    finally:
        server.shutdown()
        server.server_close()
    data = GenerationData(dataset="e2e")
    assert len(read_records(split_file(data, "test"))) == 4693
    assert len(read_records(split_file(data, "train"))) == 33525
