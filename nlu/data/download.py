"""Fetch a data set named by a data card, verify it, and put it under the data root.

A card that may be downloaded has a ``download:`` header in one of two forms.

(a) Files fetched one by one; each name is relative to ``base_url`` and to ``to``, and maps to its SHA-256::

    download:
      base_url: https://raw.githubusercontent.com/mainlp/xsid/<commit>/data/xSID-0.7/
      to: xsid/original/xSID-0.7        # relative to the data root ($NLU_DATA_DIR)
      files:
        en.valid.conll: 3b5c...
        en.test.conll: 9a1f...

(b) One archive, unpacked so that its members land under ``to``::

    download:
      url: https://amazon-massive-nlu-dataset.s3.amazonaws.com/amazon-massive-dataset-1.0.tar.gz
      sha256: null                      # null = the publisher gives none
      archive: tar.gz                   # tar.gz | zip
      to: massive/original

A missing or ``null`` SHA-256 is refused unless ``allow_unpinned=True``; the hash is then logged so that it can be
pinned in the card. Everything is fetched into a staging folder ``<root>/.download-<name>-<random>/`` and moved
into place only once all of it verified (and unpacked); on any failure the staging folder is removed and files
already under ``<root>/<to>`` are left as they were. A successful download writes ``<root>/<to>/.nlu-download.json``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from nlu.data.registry import data_root, read_card
from nlu.errors import DataError, DownloadError

log = logging.getLogger(__name__)

MANIFEST = ".nlu-download.json"
CHUNK = 1 << 16
ARCHIVES = ("tar.gz", "zip")
Progress = Callable[[str, int, int | None], None]


def download(
    name: str,
    *,
    root: Path | None = None,
    allow_unpinned: bool = False,
    force: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download data set ``name`` as its card's ``download:`` header says; return the folder ``root / to``."""
    card = read_card(name)
    plan = _plan(name, card)
    root = Path(root) if root is not None else data_root()
    target = root / plan.to
    if not force and _present(target, plan.wanted, plan.urls, plan.archive is not None):
        log.info("%s: already present in %s", name, target)
        return target
    unpinned = [f for f, h in plan.wanted.items() if h is None]
    if unpinned and not allow_unpinned:
        raise DataError(
            f"{name}: no SHA-256 pinned in {card['card_path']} for {', '.join(unpinned)}, so the download cannot "
            "be verified; pass allow_unpinned=True (the CLI's --allow-unpinned) to fetch it anyway and pin the "
            "logged hash in the card"
        )
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".download-{name}-", dir=root))
    try:
        hashes = _fetch_all(name, card, plan, staging, target, progress, timeout)
        source, moved = _unpacked(name, plan, staging, hashes, target)
        for rel in moved:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source / rel, dest)
        record = {
            "name": name,
            "urls": list(plan.urls.values()),
            "sha256": hashes,
            "files": moved,
            "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (target / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: downloaded to %s", name, target)
    return target


@dataclass
class _Plan:
    """What a card's ``download:`` header asks for: the folder under the data root, each file with its pinned
    SHA-256 (None: not pinned) and URL, how the finished layout reads in messages, and the archive kind
    (None: plain files)."""

    spec: dict
    to: PurePosixPath
    wanted: dict[str, str | None]
    urls: dict[str, str]
    layout: str
    archive: str | None


def _plan(name: str, card: dict) -> _Plan:
    spec = card.get("download")
    if not spec:
        raise DataError(
            f"{name} cannot be downloaded: {card.get('licence', 'no licence stated')}; obtain it from "
            f"{card.get('source', 'its publisher')} and put the files under $NLU_DATA_DIR/{card.get('path', name)} "
            f"(see {card['card_path']})"
        )
    where = f"{card['card_path']}: download"
    if not isinstance(spec, dict):
        raise DataError(f"{where}: expected a mapping with base_url/files or url/archive")
    to = _relative(spec.get("to"), f"{where}.to")
    if "files" in spec:
        base = str(spec.get("base_url") or "")
        files = spec["files"]
        if not base or not isinstance(files, dict) or not files:
            raise DataError(f"{where}: the files form needs base_url and a non-empty files mapping")
        wanted = {
            str(_relative(f, f"{where}.files")): _sha(h, f"{where}.files.{f}") for f, h in files.items()
        }
        urls = {f: base.rstrip("/") + "/" + urllib.parse.quote(f) for f in wanted}
        return _Plan(spec, to, wanted, urls, ", ".join(f"{to}/{f}" for f in wanted), None)
    if "url" in spec:
        archive = spec.get("archive")
        if archive not in ARCHIVES:
            raise DataError(f"{where}.archive: expected one of {', '.join(ARCHIVES)}, got {archive!r}")
        url = str(spec["url"])
        fname = PurePosixPath(urllib.parse.urlparse(url).path).name or f"archive.{archive}"
        wanted = {fname: _sha(spec.get("sha256"), f"{where}.sha256")}
        return _Plan(spec, to, wanted, {fname: url}, f"{to}/ holding the unpacked contents of {url}", archive)
    raise DataError(f"{where}: expected either base_url and files, or url and archive")


def _fetch_all(
    name, card, plan: _Plan, staging: Path, target: Path, progress, timeout: float
) -> dict[str, str]:
    """Fetch every file into ``staging/fetched``, each checked against its pinned SHA-256; their hashes."""
    hashes: dict[str, str] = {}
    for fname, url in plan.urls.items():
        actual = _fetch(url, staging / "fetched" / fname, fname, progress, timeout, plan.layout)
        expected = plan.wanted[fname]
        if expected is None:
            log.warning(
                "%s: %s has no pinned SHA-256; the downloaded file's is %s: add it to %s to pin it",
                name,
                url,
                actual,
                card["card_path"],
            )
        elif actual != expected:
            raise DownloadError(
                f"{name}: {fname}: SHA-256 mismatch: expected {expected}, actual {actual}; the file at {url} "
                f"has changed or the transfer was corrupted; nothing was written to {target}"
            )
        hashes[fname] = actual
    return hashes


def _unpacked(
    name: str, plan: _Plan, staging: Path, hashes: dict, target: Path
) -> tuple[Path, dict[str, str]]:
    """The folder the files to move into place are in, and each one's path and SHA-256: the fetched files, or
    an archive's contents (checked against the files the card pins inside it)."""
    if plan.archive is None:
        return staging / "fetched", hashes
    source = staging / "unpacked"
    fname, url = next(iter(plan.urls.items()))
    _unpack(staging / "fetched" / fname, plan.archive, source, url)
    moved = {p.relative_to(source).as_posix(): _hash_file(p) for p in _walk(source)}
    # Where a publisher pins no archive checksum, the card can still pin files inside it.
    for rel, expected in (plan.spec.get("sha256_of_files") or {}).items():
        if moved.get(rel) not in (None, expected):
            raise DataError(
                f"{name}: {rel} in {url}: SHA-256 mismatch: expected {expected}, actual {moved[rel]}; "
                f"nothing was written to {target}"
            )
    return source, moved


def _relative(value: object, where: str) -> PurePosixPath:
    path = PurePosixPath(str(value or ""))
    if not value or path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", str(value)):
        raise DataError(f"{where}: expected a relative path without '..', got {value!r}")
    return path


def _sha(value: object, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise DataError(f"{where}: expected a SHA-256 as 64 hex digits (quoted) or null, got {value!r}")
    return text


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _present(target: Path, wanted: dict[str, str | None], urls: dict[str, str], archive: bool) -> bool:
    """True when a previous download is in place and verifies, so nothing needs fetching."""
    if not archive:
        return all(
            (target / f).is_file() and (h is None or _hash_file(target / f) == h) for f, h in wanted.items()
        )
    try:
        record = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if record.get("urls") != list(urls.values()) or not record.get("files"):
        return False
    if any(h is not None and record.get("sha256", {}).get(f) != h for f, h in wanted.items()):
        return False
    return all((target / f).is_file() and _hash_file(target / f) == h for f, h in record["files"].items())


def _fetch(url: str, dest: Path, fname: str, progress: Progress | None, timeout: float, layout: str) -> str:
    """Stream ``url`` into ``dest``; return its SHA-256. Network failures become a :class:`DataError`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, got, total = hashlib.sha256(), 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                progress(fname, 0, total)
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                got += len(chunk)
                if progress:
                    progress(fname, got, total)
    except urllib.error.HTTPError as err:
        raise DownloadError(
            f"download of {url} failed: HTTP {err.code} {err.reason}; check the download URL in the data card"
        ) from None
    except http.client.IncompleteRead as err:
        got += len(err.partial)
        total = total if total is not None else got + (err.expected or 0)
        raise DownloadError(
            f"transfer of {url} stopped after {got} of {total} bytes; run the command again"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if isinstance(err, OSError) and err.filename is not None:
            raise  # a local file error, not the network
        reason = getattr(err, "reason", None) or err
        raise DownloadError(
            f"could not download {url}: the network could not be reached ({reason}). To work offline, copy "
            f"the files to a folder yourself and set NLU_DATA_DIR to it: it must hold {layout}"
        ) from None
    if total is not None and got < total:
        raise DownloadError(f"transfer of {url} stopped after {got} of {total} bytes; run the command again")
    return digest.hexdigest()


def _unpack(archive_path: Path, kind: str, dest: Path, url: str) -> None:
    """Extract into ``dest``, refusing members that would land outside it."""
    dest.mkdir(parents=True)
    try:
        if kind == "tar.gz":
            with tarfile.open(archive_path, "r:gz") as tar:
                tar.extractall(dest, filter="data")
        else:
            with zipfile.ZipFile(archive_path) as zf:
                for member in zf.namelist():
                    parts = PurePosixPath(member.replace("\\", "/")).parts
                    if member.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", member):
                        raise DataError(
                            f"{url}: archive member {member!r} would land outside the target folder"
                        )
                zf.extractall(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise DataError(
            f"{url}: the archive could not be unpacked safely: {err}; nothing was written"
        ) from None
