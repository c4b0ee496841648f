"""The artifact manifest ``nlu.json``: what the runtime needs to decode, and a SHA-256 of every file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nlu.errors import ArtifactError, DamagedArtifact

MANIFEST = "nlu.json"
FORMAT_VERSION = 1
# What the Parser reads from the manifest; ``files`` is required so that deleting it cannot switch off the hashes.
REQUIRED_KEYS = ("model_file", "tokenizer_file", "intent_labels", "slot_labels", "max_seq_length", "files")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(artifact_dir: Path, verify: bool = True) -> dict:
    """Read ``nlu.json``; with ``verify``, check that every listed file exists and has its recorded SHA-256."""
    path = artifact_dir / MANIFEST
    if not artifact_dir.is_dir():
        raise ArtifactError(f"{artifact_dir}: no such artifact directory")
    if not path.is_file():
        raise ArtifactError(f"{artifact_dir}: no {MANIFEST}; is this a directory written by `nlu export`?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedArtifact(
            f"{path}: not valid JSON ({err}); the artifact is damaged, export it again"
        ) from None
    if not isinstance(manifest, dict):
        raise DamagedArtifact(
            f"{path}: expected a JSON object, got {type(manifest).__name__}; the artifact is damaged, export it again"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format {manifest.get('format_version')!r}, this runtime reads {FORMAT_VERSION}; "
            "export the model again with this version of nlu"
        )
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise DamagedArtifact(
            f"{path}: missing {', '.join(missing)}; the artifact is damaged, export the model again"
        )
    if not isinstance(manifest["files"], dict):
        raise DamagedArtifact(f"{path}: 'files' must map file names to SHA-256; export the model again")
    read = [manifest["model_file"], manifest["tokenizer_file"]]
    read += [manifest.get(key) for key in ("lexicon_file", "synonyms_file", "regexes_file")]
    unlisted = [name for name in read if name is not None and name not in manifest["files"]]
    if unlisted:
        raise DamagedArtifact(
            f"{path}: {', '.join(unlisted)} {'is' if len(unlisted) == 1 else 'are'} read by the runtime but not "
            "listed under 'files' with a SHA-256, so a changed file would go unnoticed; the manifest was edited "
            "or damaged: export the model again"
        )
    if verify:
        for name, expected in manifest["files"].items():
            file = artifact_dir / name
            if not file.is_file():
                raise DamagedArtifact(f"{file}: listed in {MANIFEST} but missing; the artifact is incomplete")
            actual = sha256_file(file)
            if actual != expected:
                raise DamagedArtifact(
                    f"{file}: SHA-256 {actual[:12]}… does not match {expected[:12]}… in {MANIFEST}; the file was "
                    "changed or truncated after export. Export the model again"
                )
    return manifest
