"""OpenAIBackend against a loopback server that speaks the chat-completions and completions contracts.

The server answers each prompt upper-cased, records every request, and can be told to answer with canned
replies first (``script``), to answer everything the same way (``always``) or to sleep before answering.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nlu.errors import ModelError
from nlu.prompting.backends import Backend, Completion
from nlu.prompting.http_backend import OpenAIBackend

FAST = {"backoff": 0.01, "timeout": 5.0}


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # handlers still sleeping after a client timeout must not hold up the teardown

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # {"path", "headers", "body"}
        self.script: list[tuple[int, dict, bytes]] = []  # canned replies, used up first
        self.always: tuple[int, dict, bytes] | None = None
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        pass  # a client that timed out leaves a broken pipe behind; that is the test's point, not an error


class Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, *args):
        pass

    def do_POST(self):
        server = self.server
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            body = json.loads(raw)
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            canned = server.script.pop(0) if server.script else server.always
        counted = True
        try:
            delay = server.delay
            if isinstance(delay, dict):  # per prompt: lets later prompts finish first
                delay = delay.get(_prompt(body), 0.0)
            time.sleep(delay)
            # Leave the count before replying: once the reply is sent the client may send its next request
            # before this thread gets back here, and the count would briefly read one too many.
            with server.lock:
                server.in_flight -= 1
                counted = False
            status, headers, payload = canned if canned else (200, {}, _echo(self.path, body))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        finally:
            if counted:
                with server.lock:
                    server.in_flight -= 1


def _prompt(body: dict) -> str:
    return body["messages"][-1]["content"] if "messages" in body else body["prompt"]


def _echo(path: str, body: dict) -> bytes:
    answer = _prompt(body).upper()
    if path == "/v1/chat/completions":
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
    elif path == "/v1/completions":
        choice = {"index": 0, "text": answer, "finish_reason": "stop"}
    else:
        return json.dumps({"error": {"message": f"no route {path}"}}).encode()
    return json.dumps(
        {"id": "x", "object": "completion", "model": body["model"], "choices": [choice]}
    ).encode()


def _error(status: int, message: str = "boom", headers: dict | None = None) -> tuple[int, dict, bytes]:
    return status, headers or {}, json.dumps({"error": {"message": message}}).encode()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_chat_request_body_and_parsing(server):
    backend = OpenAIBackend(server.url, "tiny-llm", api_key="sk-test", temperature=0.2, **FAST)
    assert isinstance(backend, Backend)
    out = backend.complete(["book a flight"], max_tokens=12, stop=["\n", "###"], system="You label.")
    assert out == [Completion(text="BOOK A FLIGHT", seconds=out[0].seconds)]
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"] == {
        "model": "tiny-llm",
        "messages": [
            {"role": "system", "content": "You label."},
            {"role": "user", "content": "book a flight"},
        ],
        "max_tokens": 12,
        "temperature": 0.2,
        "stop": ["\n", "###"],
    }
    backend.complete(["no system"])
    body = server.requests[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "no system"}]
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2 and "stop" not in body


def test_completions_request_body_and_parsing(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    backend = OpenAIBackend(server.url, "tiny-llm", api="completions", **FAST)
    out = backend.complete(["wake me at seven", "play jazz"], max_tokens=5, stop=["\n"])
    assert [c.text for c in out] == ["WAKE ME AT SEVEN", "PLAY JAZZ"]
    assert all(c.error is None and not c.cached for c in out)
    request = server.requests[0]
    assert request["path"] == "/v1/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-env"
    assert {r["body"]["prompt"] for r in server.requests} == {"wake me at seven", "play jazz"}
    assert request["body"]["model"] == "tiny-llm"
    assert request["body"]["max_tokens"] == 5 and request["body"]["stop"] == ["\n"]
    assert request["body"]["temperature"] == 0.0
    backend.complete(["hi"], system="Label it.")
    assert server.requests[-1]["body"]["prompt"] == "Label it.\n\nhi"


@pytest.mark.parametrize("suffix", ["/v1", "/v1/", "/"])
def test_base_url_with_v1_suffix(server, suffix):
    backend = OpenAIBackend(server.url + suffix, "m", **FAST)
    assert backend.base_url == server.url
    assert backend.complete(["hello"])[0].text == "HELLO"
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_order_preserved_with_bounded_concurrency(server):
    prompts = [f"p{i}" for i in range(10)]
    # later prompts answer sooner; every reply takes long enough (>= 0.1 s) for the 4 workers to overlap under load
    server.delay = {p: 0.1 + 0.02 * (10 - i) for i, p in enumerate(prompts)}
    backend = OpenAIBackend(server.url, "m", concurrency=4, **FAST)
    out = backend.complete(prompts)
    assert [c.text for c in out] == [p.upper() for p in prompts]
    assert len(server.requests) == 10
    assert 2 <= server.max_in_flight <= 4
    assert backend.stats == {"requests": 10, "retries": 0, "failures": 0, "cache_hits": 0}


def test_429_is_retried_and_retry_after_honoured(server):
    server.script = [_error(429, "slow down", {"Retry-After": "0.3"})]
    backend = OpenAIBackend(server.url, "m", **FAST)
    started = time.monotonic()
    [out] = backend.complete(["again"])
    elapsed = time.monotonic() - started
    assert out.text == "AGAIN" and out.error is None
    assert elapsed >= 0.3
    assert len(server.requests) == 2
    assert backend.stats["retries"] == 1 and backend.stats["failures"] == 0


def test_retry_after_is_capped():
    from nlu.prompting.http_backend import MAX_RETRY_AFTER, _retry_after

    assert _retry_after("3600") == MAX_RETRY_AFTER
    assert _retry_after("2") == 2.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert _retry_after(None) is None


def test_500_three_times_then_success(server):
    server.script = [_error(500)] * 3
    backend = OpenAIBackend(server.url, "m", **FAST)
    [out] = backend.complete(["x"])
    assert out.text == "X"
    assert backend.stats == {"requests": 4, "retries": 3, "failures": 0, "cache_hits": 0}


def test_persistent_500_returns_a_failed_completion(server):
    server.always = _error(500, "model crashed")
    backend = OpenAIBackend(server.url, "m", max_retries=2, **FAST)
    out = backend.complete(["a", "b"])
    assert [c.text for c in out] == [None, None]
    assert all("500" in c.error and "model crashed" in c.error for c in out)
    assert len(server.requests) == 6
    assert backend.stats["failures"] == 2 and backend.stats["retries"] == 4


def test_400_is_not_retried(server):
    server.always = _error(400, "max_tokens is too large")
    backend = OpenAIBackend(server.url, "m", **FAST)
    [out] = backend.complete(["x"])
    assert out.text is None
    assert "400" in out.error and "max_tokens is too large" in out.error
    assert len(server.requests) == 1
    assert backend.stats == {"requests": 1, "retries": 0, "failures": 1, "cache_hits": 0}


def test_timeout_gives_a_failed_completion(server):
    server.delay = 0.6
    backend = OpenAIBackend(server.url, "m", timeout=0.2, max_retries=1, backoff=0.01)
    started = time.monotonic()
    [out] = backend.complete(["slow"])
    assert time.monotonic() - started < 2.0
    assert out.text is None and "timeout" in out.error
    assert len(server.requests) == 2


def test_connection_refused_gives_a_failed_completion():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}", "m", max_retries=1, backoff=0.01, timeout=1.0)
    [out] = backend.complete(["x"])
    assert out.text is None and "could not reach" in out.error
    assert backend.stats["requests"] == 2


@pytest.mark.parametrize(
    "payload",
    [b"<html>oops</html>", json.dumps({"id": "x", "object": "chat.completion"}).encode()],
    ids=["not-json", "no-choices"],
)
def test_malformed_reply(server, payload):
    server.always = (200, {}, payload)
    backend = OpenAIBackend(server.url, "m", **FAST)
    [out] = backend.complete(["x"])
    assert out.text is None and out.error.startswith("malformed reply")
    assert len(server.requests) <= 2  # retried once at most


def test_malformed_once_then_fine(server):
    server.script = [(200, {}, b"{not json")]
    backend = OpenAIBackend(server.url, "m", **FAST)
    assert backend.complete(["x"])[0].text == "X"


def test_disk_cache(server, tmp_path):
    cache = tmp_path / "cache"
    backend = OpenAIBackend(server.url, "m", cache_dir=cache, **FAST)
    [first] = backend.complete(["play jazz"], max_tokens=8)
    assert first.text == "PLAY JAZZ" and not first.cached
    assert len(server.requests) == 1
    [second] = backend.complete(["play jazz"], max_tokens=8)
    assert second.text == "PLAY JAZZ" and second.cached
    assert len(server.requests) == 1 and backend.stats["cache_hits"] == 1

    backend.complete(["play jazz"], max_tokens=9)  # any change in the request body misses
    assert len(server.requests) == 2
    other_model = OpenAIBackend(server.url, "m2", cache_dir=cache, **FAST)
    assert not other_model.complete(["play jazz"], max_tokens=8)[0].cached

    # a fresh instance on the same folder reuses the entries
    again = OpenAIBackend(server.url + "/v1", "m", cache_dir=cache, **FAST)
    assert again.complete(["play jazz"], max_tokens=8)[0].cached

    files = sorted(cache.glob("*/*.json"))
    assert len(files) == 3
    assert all(f.parent.name == f.stem[:2] and len(f.stem) == 64 for f in files)
    assert not list(cache.rglob("*.tmp"))


def test_failures_are_not_cached(server, tmp_path):
    server.script = [_error(400, "try later")]
    backend = OpenAIBackend(server.url, "m", cache_dir=tmp_path, **FAST)
    assert backend.complete(["x"])[0].text is None
    assert not list(tmp_path.glob("*/*.json"))
    [out] = backend.complete(["x"])
    assert out.text == "X" and not out.cached
    assert backend.complete(["x"])[0].cached
    assert len(server.requests) == 2


@pytest.mark.parametrize("url", ["ftp://example.org", "localhost:8000", "file:///tmp/x", "http://"])
def test_bad_base_url_raises(url):
    with pytest.raises(ModelError, match="http:// or https://"):
        OpenAIBackend(url, "m")


def test_bad_arguments_raise():
    with pytest.raises(ModelError, match="api"):
        OpenAIBackend("http://localhost:1", "m", api="embeddings")
    with pytest.raises(ModelError, match="concurrency"):
        OpenAIBackend("http://localhost:1", "m", concurrency=0)
    backend = OpenAIBackend("http://localhost:1", "m")
    with pytest.raises(ModelError, match="single string"):
        backend.complete("not a list")
    assert backend.complete([]) == []
