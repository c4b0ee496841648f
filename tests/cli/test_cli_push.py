"""`nlu push MODEL REPO_ID`: huggingface_hub's upload API against a loopback server that plays the Hub and records
every request (the real Hub is never contacted)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cli_helpers import run_main


class FakeHub:
    """The Hub endpoints an upload of small files uses: create a repository, validate the card's metadata, ask
    how each file goes up (all "regular": inline in the commit), and commit. ``refuse`` answers 403 to all."""

    def __init__(self, refuse: bool = False):
        self.requests: list[tuple[str, str, dict, bytes]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._handle()

            def do_POST(self):
                self._handle()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding") == "chunked":
                    data = b""
                    while size := int(self.rfile.readline().strip(), 16):
                        data += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return data
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, code: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                body = self._body()
                hub.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                path = self.path.split("?")[0]
                if hub.refuse:
                    return self._reply(
                        403, {"error": "You don't have the rights to create a model under this namespace"}
                    )
                if path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                if path == "/api/repos/create":
                    spec = json.loads(body)
                    return self._reply(200, {"url": f"{hub.url}/{spec['organization']}/{spec['name']}"})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    modes = [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                    ]
                    return self._reply(200, {"files": modes})
                if "/commit/" in path:
                    repo = path.removeprefix("/api/models/").split("/commit/")[0]
                    return self._reply(
                        200, {"commitUrl": f"{hub.url}/{repo}/commit/{'a' * 40}", "commitOid": "a" * 40}
                    )
                return self._reply(404, {"error": f"no {path} here"})

        self.refuse = refuse
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def committed(self) -> dict[str, bytes]:
        """File path -> content of every commit's files."""
        files = {}
        for method, path, _, body in self.requests:
            if method == "POST" and "/commit/" in path:
                for line in body.decode().splitlines():
                    entry = json.loads(line)
                    if entry["key"] == "file":
                        files[entry["value"]["path"]] = base64.b64decode(entry["value"]["content"])
        return files


@pytest.fixture
def online(monkeypatch):
    """huggingface_hub's offline mode off, whatever the environment (the Makefile sets HF_HUB_OFFLINE=1)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_offline_mode_is_refused_before_any_request_with_how_to_lift_it(
    tiny_model_dir, offline, monkeypatch, capsys
):
    with FakeHub() as hub:
        code, out, err = run_main(monkeypatch, capsys, "push", tiny_model_dir, "me/x", "--endpoint", hub.url)
    assert code == 1 and not out and not hub.requests
    assert "offline mode is on" in err and "HF_HUB_OFFLINE=0 nlu push" in err and "Traceback" not in err


def test_push_uploads_the_model_and_its_card(online, tiny_model_dir, monkeypatch, capsys):
    with FakeHub() as hub:
        code, out, err = run_main(
            monkeypatch,
            capsys,
            "push",
            tiny_model_dir,
            "me/demo-jointbert",
            "--endpoint",
            hub.url,
            "--token",
            "hf_test_token",
            "--private",
            "--json",
        )
    assert code == 0, err
    result = json.loads(out)
    assert result["repo_url"] == f"{hub.url}/me/demo-jointbert"
    assert result["commit_url"].startswith(f"{hub.url}/me/demo-jointbert/commit/")
    created = next(json.loads(b) for m, p, _, b in hub.requests if p == "/api/repos/create")
    assert created == {
        "name": "demo-jointbert",
        "organization": "me",
        "visibility": "private",
        "type": "model",
    }
    assert all(h.get("authorization") == "Bearer hf_test_token" for _, _, h, _ in hub.requests)
    committed = hub.committed()
    on_disk = {str(p.relative_to(tiny_model_dir)) for p in tiny_model_dir.rglob("*") if p.is_file()}
    assert set(committed) == on_disk == set(result["files"])
    assert {"README.md", "config.json", "model.safetensors", "modeling_nlu.py"} <= on_disk
    assert committed["model.safetensors"] == (tiny_model_dir / "model.safetensors").read_bytes()


def test_a_refusal_is_a_runtime_failure_with_the_hubs_reason(online, tiny_model_dir, monkeypatch, capsys):
    with FakeHub(refuse=True) as hub:
        code, out, err = run_main(monkeypatch, capsys, "push", tiny_model_dir, "me/x", "--endpoint", hub.url)
    assert code == 1 and not out
    assert (
        err.startswith("error: push to me/x on http://127.0.0.1:") and "403" in err and "Traceback" not in err
    )


@pytest.mark.parametrize("args", [["push"], ["push", "no-such-dir", "me/x"]])
def test_push_usage_errors(args, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, _ = run_main(monkeypatch, capsys, *args)
    assert code == 2
