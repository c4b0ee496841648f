"""Downloading a data set named by its card, from a loopback HTTP server: verify, stage, move into place, and
leave nothing behind when anything goes wrong."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from nlu.data.download import download
from nlu.errors import DataError

FILES = {"en.valid.conll": b"# id 1\nhello\tO\n", "sub/en.test.conll": b"# id 2\nbye\tO\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileHandler(SimpleHTTPRequestHandler):
    """Serves the fixture's folder and counts requests on the server."""

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


class TruncatingHandler(FileHandler):
    """Promises 1000 bytes, sends 10 and closes the connection."""

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, Path]:
    folders = {k: tmp_path / k for k in ("data", "cards", "srv")}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setenv("NLU_DATA_DIR", str(folders["data"]))
    monkeypatch.setenv("NLU_CARDS_DIR", str(folders["cards"]))
    return folders


@pytest.fixture
def serve(env):
    """``serve(handler=FileHandler)`` -> (base URL, server) serving ``env['srv']``; stopped after the test."""
    servers = []

    def start(handler=FileHandler):
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(env["srv"])))
        server.hits = []
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def write_card(env, name: str, download_spec: dict | None, **extra) -> None:
    header = {"name": name, "path": name, **extra}
    if download_spec is not None:
        header["download"] = download_spec
    text = f"---\n{yaml.safe_dump(header)}---\n# {name}\n"
    (env["cards"] / f"{name}.md").write_text(text, encoding="utf-8")


def publish(env, files: dict[str, bytes]) -> dict[str, str]:
    for rel, data in files.items():
        (env["srv"] / rel).parent.mkdir(parents=True, exist_ok=True)
        (env["srv"] / rel).write_bytes(data)
    return {rel: sha(data) for rel, data in files.items()}


def files_card(env, base: str, hashes: dict[str, str | None]) -> None:
    write_card(env, "xs", {"base_url": base, "to": "xs/original", "files": hashes})


def assert_clean(root: Path) -> None:
    assert not list(root.glob(".download-*"))


def test_files_form_downloads_verifies_and_skips_when_present(env, serve):
    base, server = serve()
    files_card(env, base, publish(env, FILES))
    seen = []
    target = download("xs", progress=lambda f, n, t: seen.append((f, n, t)))
    assert target == env["data"] / "xs" / "original"
    for rel, data in FILES.items():
        assert (target / rel).read_bytes() == data
    record = json.loads((target / ".nlu-download.json").read_text())
    assert record["name"] == "xs" and record["sha256"] == {r: sha(d) for r, d in FILES.items()}
    assert len(record["urls"]) == 2 and record["downloaded_at"].endswith("+00:00")
    assert ("en.valid.conll", len(FILES["en.valid.conll"]), len(FILES["en.valid.conll"])) in seen
    assert_clean(env["data"])
    assert len(server.hits) == 2
    assert download("xs") == target and len(server.hits) == 2
    download("xs", force=True)
    assert len(server.hits) == 4


def test_wrong_checksum_leaves_existing_files_untouched(env, serve):
    base, _ = serve()
    hashes = publish(env, FILES)
    hashes["sub/en.test.conll"] = "0" * 64
    files_card(env, base, hashes)
    target = env["data"] / "xs" / "original"
    target.mkdir(parents=True)
    (target / "en.valid.conll").write_bytes(b"old but good")
    with pytest.raises(DataError) as err:
        download("xs")
    message = str(err.value)
    assert "0" * 64 in message and sha(FILES["sub/en.test.conll"]) in message and "has changed" in message
    assert [p.name for p in target.iterdir()] == ["en.valid.conll"]
    assert (target / "en.valid.conll").read_bytes() == b"old but good"
    assert_clean(env["data"])


def test_truncated_transfer(env, serve):
    base, _ = serve(TruncatingHandler)
    files_card(env, base, {"en.valid.conll": "a" * 64})
    with pytest.raises(DataError, match="stopped after 10 of 1000 bytes"):
        download("xs")
    assert list(env["data"].iterdir()) == []


def test_http_404(env, serve):
    base, _ = serve()
    files_card(env, base, {"missing.conll": "a" * 64})
    with pytest.raises(DataError) as err:
        download("xs")
    assert "404" in str(err.value) and f"{base}missing.conll" in str(err.value)
    assert list(env["data"].iterdir()) == []


def test_connection_refused_explains_offline_use(env, serve):
    base, server = serve()
    server.shutdown()
    server.server_close()
    files_card(env, base, {"en.valid.conll": "a" * 64})
    with pytest.raises(DataError) as err:
        download("xs", timeout=5)
    assert "NLU_DATA_DIR" in str(err.value) and "xs/original/en.valid.conll" in str(err.value)
    assert list(env["data"].iterdir()) == []


def make_archive(kind: str, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as zf:
            for rel, data in members.items():
                zf.writestr(rel, data)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for rel, data in members.items():
                info = tarfile.TarInfo(rel)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def archive_card(env, base: str, kind: str, members: dict[str, bytes], pin: bool = True) -> None:
    blob = make_archive(kind, members)
    publish(env, {f"set.{kind}": blob})
    spec = {
        "url": f"{base}set.{kind}",
        "sha256": sha(blob) if pin else None,
        "archive": kind,
        "to": "ms/orig",
    }
    write_card(env, "ms", spec)


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_is_unpacked_under_to(env, serve, kind):
    base, server = serve()
    archive_card(env, base, kind, {"1.0/data/en-US.jsonl": b"{}\n", "1.0/LICENSE": b"CC BY 4.0\n"})
    target = env["data"] / "ms" / "orig"
    (target / "1.0").mkdir(parents=True)
    (target / "1.0" / "LICENSE").write_bytes(b"stale")
    (target / "keep.txt").write_bytes(b"mine")
    assert download("ms") == target
    assert (target / "1.0" / "data" / "en-US.jsonl").read_bytes() == b"{}\n"
    assert (target / "1.0" / "LICENSE").read_bytes() == b"CC BY 4.0\n"
    assert (target / "keep.txt").read_bytes() == b"mine"
    assert "1.0/LICENSE" in json.loads((target / ".nlu-download.json").read_text())["files"]
    assert_clean(env["data"])
    download("ms")
    assert len(server.hits) == 1


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_member_escaping_the_target_is_refused(env, serve, tmp_path, kind):
    base, _ = serve()
    archive_card(env, base, kind, {"ok.txt": b"ok", "../evil": b"evil"})
    with pytest.raises(DataError, match="unpack|outside"):
        download("ms")
    assert list(env["data"].iterdir()) == []
    assert not [p for p in tmp_path.rglob("evil")]


def test_unpinned_archive_needs_allow_unpinned(env, serve, caplog):
    base, server = serve()
    archive_card(env, base, "tar.gz", {"a.txt": b"a"}, pin=False)
    with pytest.raises(DataError, match="allow_unpinned"):
        download("ms")
    assert server.hits == [] and list(env["data"].iterdir()) == []
    with caplog.at_level(logging.WARNING, logger="nlu.data.download"):
        target = download("ms", allow_unpinned=True)
    assert (target / "a.txt").read_bytes() == b"a"
    assert sha((env["srv"] / "set.tar.gz").read_bytes()) in caplog.text


def test_card_without_download_explains_where_to_get_it(env):
    write_card(env, "atis", None, licence="LDC-derived", source="https://example.org/atis")
    with pytest.raises(DataError) as err:
        download("atis")
    message = str(err.value)
    assert "atis cannot be downloaded: LDC-derived" in message and "https://example.org/atis" in message
    assert "$NLU_DATA_DIR/atis" in message


def test_command_line_download_reports_the_folder_and_refuses_unpinned(env, serve):
    from typer.testing import CliRunner

    from nlu.cli.main import app

    base, _ = serve()
    files_card(env, base, publish(env, FILES))
    result = CliRunner().invoke(app, ["data", "download", "xs"])
    assert result.exit_code == 0, result.output
    assert f"xs: files in {env['data'] / 'xs' / 'original'}" in result.output
    write_card(env, "arch", {"url": base + "a.tar.gz", "sha256": None, "archive": "tar.gz", "to": "arch"})
    refused = CliRunner().invoke(app, ["data", "download", "arch"])
    assert refused.exit_code != 0 and "--allow-unpinned" in str(refused.exception)


def test_unpinned_archive_is_still_checked_against_the_files_the_card_pins(env, serve):
    base, _ = serve()
    members = {"1.0/data/en-US.jsonl": b"{}\n"}
    archive_card(env, base, "tar.gz", members, pin=False)
    card = env["cards"] / "ms.md"
    header = yaml.safe_load(card.read_text().split("---")[1])
    header["download"]["sha256_of_files"] = {"1.0/data/en-US.jsonl": "0" * 64}
    card.write_text(f"---\n{yaml.safe_dump(header)}---\n", encoding="utf-8")
    with pytest.raises(DataError, match="1.0/data/en-US.jsonl.*SHA-256 mismatch"):
        download("ms", allow_unpinned=True)
    assert not (env["data"] / "ms" / "orig").exists()
    assert_clean(env["data"])
    header["download"]["sha256_of_files"] = {"1.0/data/en-US.jsonl": sha(b"{}\n")}
    card.write_text(f"---\n{yaml.safe_dump(header)}---\n", encoding="utf-8")
    assert (download("ms", allow_unpinned=True) / "1.0" / "data" / "en-US.jsonl").is_file()
