"""The HTTP server over real HTTP on loopback: uvicorn in a thread, requests with httpx."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from nlu.errors import ArtifactError
from nlu.runtime.manifest import sha256_file
from nlu.serve import create_app, run_server
from nlu.serve.app import app_from_env

REPO = Path(__file__).resolve().parents[2]
MAX_BODY = 4096  # small, so that the 413 tests send little
MAX_BATCH = 8
TEXTS = [
    "turn on the lights in the kitchen",
    "play hey jude by the beatles",
    "what is the weather in paris tomorrow",
    "set an alarm for 7 am",
    "book a flight from boston to denver",
]


@pytest.fixture(scope="module")
def url(parser, start_server):
    app = create_app(parser=parser, max_body=MAX_BODY, max_batch=MAX_BATCH)
    with start_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


@pytest.mark.parametrize("path", ["/parse", "/model/parse"])
def test_parse_matches_the_parser(client, parser, path):
    for text in TEXTS:
        response = client.post(path, json={"text": text})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == parser.parse(text).to_dict()


def test_rasa_message_id_is_echoed(client, parser):
    body = client.post("/model/parse", json={"text": TEXTS[0], "message_id": "abc-1"}).json()
    assert body == parser.parse(TEXTS[0]).to_dict() | {"message_id": "abc-1"}
    assert "message_id" not in client.post("/model/parse", json={"text": TEXTS[0]}).json()
    response = client.post("/model/parse", json={"text": TEXTS[0], "message_id": ["x"]})
    assert response.status_code == 400 and "message_id" in response.json()["error"]


def test_batch(client, parser):
    response = client.post("/parse/batch", json={"texts": TEXTS + [""]})
    assert response.status_code == 200
    assert response.json() == {"predictions": [p.to_dict() for p in parser.parse_batch(TEXTS + [""])]}
    assert client.post("/parse/batch", json={"texts": []}).json() == {"predictions": []}


def test_batch_limits_and_types(client):
    response = client.post("/parse/batch", json={"texts": ["hi"] * (MAX_BATCH + 1)})
    assert response.status_code == 413 and f"at most {MAX_BATCH}" in response.json()["error"]
    response = client.post("/parse/batch", json={"texts": "hi"})
    assert response.status_code == 400 and "array of strings" in response.json()["error"]
    response = client.post("/parse/batch", json={"texts": ["hi", 3]})
    assert response.status_code == 400 and '"texts"[1] must be a string' in response.json()["error"]
    response = client.post("/parse/batch", json={"text": "hi"})
    assert response.status_code == 400 and 'missing "texts"' in response.json()["error"]


@pytest.mark.parametrize("text", ["", "   \t "])
def test_empty_text_has_no_intent(client, text):
    """`"intent": null` crashed Rasa's message processor (`parse_data.get("intent", {}).get("name")`)."""
    response = client.post("/parse", json={"text": text})
    assert response.status_code == 200
    assert response.json() == {
        "text": text,
        "intent": {"name": None, "confidence": 0.0},
        "intent_ranking": [],
        "entities": [],
    }


def test_long_text_is_flagged_truncated(client, parser):
    text = " ".join(["turn on the lights"] * 40)  # 160 words, past the tiny model's 48 sub-tokens
    body = client.post("/parse", json={"text": text}).json()
    assert body["truncated"] is True and body["words_used"] < body["words_total"] == 160
    assert body == parser.parse(text).to_dict()


def test_health_and_version(client, parser, artifact_dir):
    assert client.get("/health").json() == {"status": "ok"}
    version = client.get("/version").json()
    manifest = parser.manifest
    assert version["architecture"] == manifest["architecture"] == "nlu-jointbert"
    assert version["nlu_version"] == manifest["nlu_version"]
    assert version["quantization"] == "none"
    assert version["max_seq_length"] == manifest["max_seq_length"]
    assert version["num_intent_labels"] == len(manifest["intent_labels"])
    assert version["num_slot_labels"] == len(manifest["slot_labels"])
    assert "UNK" not in version["intents"] and "turn_on_device" in version["intents"]
    assert "device" in version["entities"] and not any(
        e.startswith(("B-", "I-")) for e in version["entities"]
    )
    assert version["model_sha256"] == sha256_file(artifact_dir / "model.onnx")
    assert version["limits"] == {"max_body_bytes": MAX_BODY, "max_batch": MAX_BATCH}


@pytest.mark.parametrize(
    "body, says",
    [
        (b'{"text": "unclosed', "not valid JSON"),
        (b"", "empty request body"),
        (b'["turn on the lights"]', "got a JSON array"),
        (b'"turn on the lights"', "got a JSON string"),
        (b'{"utterance": "hi"}', 'missing "text"'),
        (b'{"text": 42}', '"text" must be a string, got a JSON number'),
        (b'{"text": null}', "got a JSON null"),
        (b'{"text": "\\ud800"}', "lone surrogate"),
        (b'{"text": "caf\xe9"}', "not valid JSON"),  # Latin-1, not UTF-8
        (b"[" * 3000, "not valid JSON"),  # nesting deep enough for a RecursionError
    ],
)
def test_bad_input_is_a_400_that_says_what_to_send(client, body, says):
    response = client.post("/parse", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert says in error
    assert '{"text": ' in error  # an example of what to send


def test_body_over_the_limit_with_content_length(client):
    response = client.post("/parse", json={"text": "a " * MAX_BODY})
    assert response.status_code == 413
    assert f"larger than {MAX_BODY} bytes" in response.json()["error"]


def test_body_over_the_limit_streamed_in_chunks(client):
    def chunks():  # a generator body: httpx sends it chunked, without a Content-Length
        yield b'{"text": "'
        for _ in range(8):
            yield b"a " * 512
        yield b'"}'

    response = client.post("/parse", content=chunks())
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_chunked_body_under_the_limit_is_read(client, parser):
    def chunks():
        yield b'{"text": '
        yield b'"turn on the lights in the kitchen"}'

    response = client.post("/parse", content=chunks())
    assert response.status_code == 200
    assert response.json() == parser.parse("turn on the lights in the kitchen").to_dict()


def test_declared_length_is_refused_before_reading(url):
    """A Content-Length of a gigabyte and no body: the 413 comes at once, without waiting for the bytes."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /parse HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"larger than" in reply


def test_wrong_method_and_unknown_path(client):
    response = client.get("/parse")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "use POST" in response.json()["error"]
    assert client.post("/health").status_code == 405
    response = client.get("/nope")
    assert response.status_code == 404
    assert "POST /parse" in response.json()["error"]


def test_fifty_concurrent_requests(url, parser):
    texts = [f"{TEXTS[i % len(TEXTS)]} {'please ' * (i % 4)}".strip() for i in range(50)]
    expected = [parser.parse(t).to_dict() for t in texts]
    with httpx.Client(base_url=url, timeout=60) as shared, ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda t: shared.post("/parse", json={"text": t}), texts))
    assert [r.status_code for r in responses] == [200] * 50
    assert [r.json() for r in responses] == expected


def test_app_from_env_reads_its_settings(monkeypatch, artifact_dir, start_server):
    monkeypatch.setenv("NLU_SERVE_ARTIFACT", str(artifact_dir))
    monkeypatch.setenv("NLU_SERVE_MAX_BODY", "1000")
    monkeypatch.setenv("NLU_SERVE_MAX_BATCH", "3")
    monkeypatch.setenv("NLU_SERVE_FALLBACK_THRESHOLD", "0.5")
    with start_server(app_from_env()) as base:
        version = httpx.get(f"{base}/version", timeout=30).json()
    assert version["limits"] == {"max_body_bytes": 1000, "max_batch": 3}
    assert version["fallback"] == {"threshold": 0.5, "ambiguity_threshold": None}
    monkeypatch.setenv("NLU_SERVE_FALLBACK_THRESHOLD", "2")
    with pytest.raises(ArtifactError, match="between 0 and 1"):
        app_from_env()
    monkeypatch.delenv("NLU_SERVE_FALLBACK_THRESHOLD")
    monkeypatch.setenv("NLU_SERVE_MAX_BATCH", "many")
    with pytest.raises(ArtifactError, match="NLU_SERVE_MAX_BATCH='many'"):
        app_from_env()
    monkeypatch.delenv("NLU_SERVE_ARTIFACT")
    with pytest.raises(ArtifactError, match="NLU_SERVE_ARTIFACT"):
        app_from_env()


def test_serve_module_imports_no_torch():
    code = (
        "import sys, nlu.serve, uvicorn\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _tampered(artifact_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(artifact_dir, copy)
    with open(copy / "model.onnx", "ab") as f:
        f.write(b"\0")
    return copy


@pytest.mark.parametrize("which", ["missing", "tampered"])
def test_cli_serve_on_a_bad_artifact_exits_before_binding(tmp_path, artifact_dir, which):
    """A path that is no artifact is a usage error (2); a tampered one a runtime failure (1)."""
    bad = tmp_path / "no-such-artifact" if which == "missing" else _tampered(artifact_dir, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "nlu.cli.main", "serve", str(bad), "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == (2 if which == "missing" else 1), result.stderr
    assert result.stderr.startswith("error: ") and str(bad) in result.stderr
    assert "Traceback" not in result.stderr
    assert ("no such artifact directory" if which == "missing" else "SHA-256") in result.stderr


@pytest.mark.parametrize("workers", [1, 3])
def test_run_server_hands_uvicorn_the_app_or_the_factory(monkeypatch, caplog, artifact_dir, workers):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    for name in (
        "ARTIFACT",
        "THREADS",
        "MAX_BODY",
        "MAX_BATCH",
        "BODY_TIMEOUT",
        "FALLBACK_THRESHOLD",
        "AMBIGUITY_THRESHOLD",
    ):
        monkeypatch.setenv(f"NLU_SERVE_{name}", "")  # restored afterwards, whatever run_server sets
    with caplog.at_level(logging.INFO, logger="nlu.serve"):
        run_server(
            artifact_dir,
            port=5099,
            workers=workers,
            threads=2,
            max_body=1234,
            max_batch=5,
            fallback_threshold=0.4,
        )
    [(app, kwargs)] = calls
    assert kwargs["port"] == 5099
    assert f"starting {artifact_dir} (nlu-jointbert" in caplog.text and "127.0.0.1:5099" in caplog.text
    if workers == 1:
        assert isinstance(app, Starlette)
    else:
        assert app == "nlu.serve.app:app_from_env" and kwargs["factory"] is True and kwargs["workers"] == 3
        assert os.environ["NLU_SERVE_ARTIFACT"] == str(artifact_dir.resolve())
        assert (os.environ["NLU_SERVE_THREADS"], os.environ["NLU_SERVE_MAX_BODY"]) == ("2", "1234")
        assert os.environ["NLU_SERVE_MAX_BATCH"] == "5"
        assert (os.environ["NLU_SERVE_FALLBACK_THRESHOLD"], os.environ["NLU_SERVE_AMBIGUITY_THRESHOLD"]) == (
            "0.4",
            "",
        )


def test_a_body_shorter_than_its_content_length_is_timed_out(parser, start_server):
    """The server kept such a connection open forever; now it answers 408 and closes it."""
    app = create_app(parser=parser, body_timeout=0.5)
    with start_server(app) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /parse HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"text": "hel'
            )
            reply = b""
            while chunk := sock.recv(4096):  # returns b"" once the server closes the connection
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b"did not arrive within 0.5 s" in reply


@pytest.mark.parametrize(
    ("option", "value"), [("--port", "99999"), ("--port", "-5"), ("--max-body", "-1"), ("--max-body", "0")]
)
def test_cli_serve_refuses_out_of_range_numbers(artifact_dir, option, value):
    """--port 99999 and --port -5 died with a traceback; --max-body -1 was accepted, then every request 413."""
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", str(artifact_dir), option, value],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and f"Invalid value for '{option}'" in result.stderr


def test_create_app_refuses_limits_below_one(parser):
    with pytest.raises(ValueError, match="max_body"):
        create_app(parser=parser, max_body=-1)
