"""A backend for any server that speaks the OpenAI HTTP API: vLLM, llama.cpp's server, Ollama, OpenAI itself.

::

    backend = OpenAIBackend("http://localhost:8000", "Qwen/Qwen2.5-7B-Instruct", cache_dir=".cache/llm")
    answers = backend.complete(prompts, max_tokens=64, stop=["\\n\\n"], system="You label utterances.")

``api="chat"`` POSTs ``{base_url}/v1/chat/completions`` and reads ``choices[0].message.content``;
``api="completions"`` POSTs ``{base_url}/v1/completions`` and reads ``choices[0].text`` (there being no system
role there, a ``system`` text is put before the prompt, followed by a blank line). ``base_url`` may end in
``/v1`` or not.

Connection errors, timeouts, HTTP 429 and HTTP 5xx are retried up to ``max_retries`` times, waiting
``backoff * 2**attempt`` seconds plus a little jitter, or what a numeric ``Retry-After`` header asks (at most
30 s). Other 4xx answers are not retried. A reply that is not JSON or lacks the expected fields is retried once.
Whatever still fails comes back as ``Completion(text=None, error=...)``: nothing is raised into the caller's loop.

With ``cache_dir`` set, each successful reply text is kept in ``cache_dir/<2 hex>/<sha256>.json``, keyed by the
base URL, the endpoint and the full request body, so that any change of model, prompt, max_tokens, stop,
temperature or system message misses. Failures are never cached.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from nlu.errors import ModelError
from nlu.prompting.backends import Backend, Completion

log = logging.getLogger(__name__)

ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
MAX_RETRY_AFTER = 30.0  # seconds; a server asking for longer is not waited for any longer than this
JITTER = 0.1  # at most this fraction of the back-off is added at random, so that workers do not retry in step
SNIPPET = 300  # characters of a server's error body or of a malformed reply quoted in an error


class _Retryable(Exception):
    """A failed attempt worth another try; ``wait`` is the server's Retry-After in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class _Final(Exception):
    """A failed attempt that another try would not mend (HTTP 4xx other than 429)."""


class _Malformed(Exception):
    """A reply that arrived but is not JSON or lacks the expected fields."""


class OpenAIBackend(Backend):
    """Completions from an OpenAI-compatible server; thread-safe, so one instance may serve several callers.

    ``timeout`` is in seconds per blocking network operation (connect, or a wait for more bytes); ``concurrency``
    is the most requests in flight at once; ``temperature`` 0 asks for greedy decoding. ``api_key`` defaults to
    ``$OPENAI_API_KEY`` and is sent as a bearer token; it is not part of the cache key. ``stats`` counts
    ``requests`` (HTTP requests sent, retries included), ``retries``, ``failures`` (completions returned without
    text) and ``cache_hits``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: Literal["chat", "completions"] = "chat",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        concurrency: int = 4,
        cache_dir: str | Path | None = None,
        temperature: float = 0.0,
    ):
        parsed = urllib.parse.urlsplit(str(base_url).strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ModelError(
                f"base_url {base_url!r}: expected an http:// or https:// URL of an OpenAI-compatible server, "
                "such as http://localhost:8000 or http://localhost:8000/v1"
            )
        if api not in ENDPOINTS:
            raise ModelError(f"api {api!r}: expected one of {', '.join(ENDPOINTS)}")
        if not model:
            raise ModelError(
                "model: name the model the server should run, e.g. the name vLLM was started with"
            )
        problems = []
        if not timeout > 0:
            problems.append(f"timeout: expected a positive number of seconds, got {timeout!r}")
        if max_retries < 0:
            problems.append(f"max_retries: expected 0 or more, got {max_retries!r}")
        if backoff < 0:
            problems.append(f"backoff: expected 0 or more seconds, got {backoff!r}")
        if concurrency < 1:
            problems.append(f"concurrency: expected 1 or more, got {concurrency!r}")
        if problems:
            raise ModelError("OpenAIBackend: " + "; ".join(problems))

        path = parsed.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        self.base_url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
        self.model = model
        self.api = api
        self.endpoint = ENDPOINTS[api]
        self.url = self.base_url + self.endpoint
        self.name = f"openai-{api}:{model}"
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.concurrency = int(concurrency)
        self.temperature = float(temperature)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0, "failures": 0, "cache_hits": 0}

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, {self.model!r}, api={self.api!r})"

    def complete(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int = 64,
        stop: Sequence[str] | None = None,
        system: str | None = None,
    ) -> list[Completion]:
        """One :class:`Completion` per prompt, in input order, with at most ``concurrency`` requests in flight."""
        if isinstance(prompts, str):
            raise ModelError("complete: expected a sequence of prompts, got a single string; pass [prompt]")
        if max_tokens < 1:
            raise ModelError(f"complete: max_tokens: expected 1 or more, got {max_tokens!r}")
        bodies = [self._body(p, max_tokens, stop, system) for p in prompts]
        if not bodies:
            return []
        if len(bodies) == 1 or self.concurrency == 1:
            return [self._complete_one(b) for b in bodies]
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(bodies)), thread_name_prefix="llm"
        ) as pool:
            return list(pool.map(self._complete_one, bodies))

    def _body(self, prompt: str, max_tokens: int, stop: Sequence[str] | None, system: str | None) -> dict:
        body: dict = {"model": self.model}
        if self.api == "chat":
            messages = [{"role": "system", "content": system}] if system else []
            body["messages"] = [*messages, {"role": "user", "content": prompt}]
        else:
            body["prompt"] = f"{system}\n\n{prompt}" if system else prompt
        body["max_tokens"] = int(max_tokens)
        body["temperature"] = self.temperature
        if stop:
            # Some servers reject "stop": null, so the key is left out when there is nothing to stop at.
            body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        return body

    def _complete_one(self, body: dict) -> Completion:
        started = time.monotonic()
        key = self._cache_key(body) if self.cache_dir is not None else None
        if key is not None:
            text = self._cache_read(key)
            if text is not None:
                self._count("cache_hits")
                return Completion(text=text, cached=True, seconds=time.monotonic() - started)

        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        error = ""
        malformed_seen = False
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._count("retries")
            self._count("requests")
            try:
                text = self._parse(self._post(payload))
            except _Final as err:
                error = str(err)
                break
            except _Malformed as err:
                error = f"malformed reply: {err}"
                if malformed_seen or attempt == self.max_retries:
                    break
                malformed_seen = True
                log.debug("%s: %s; trying once more", self.url, error)
                continue
            except _Retryable as err:
                error = str(err)
                if attempt == self.max_retries:
                    error += f" (gave up after {attempt + 1} attempts)"
                    break
                delay = self._delay(attempt, err.wait)
                log.debug("%s: %s; retrying in %.2f s", self.url, error, delay)
                time.sleep(delay)
                continue
            if key is not None:
                self._cache_write(key, text)
            return Completion(text=text, seconds=time.monotonic() - started)

        self._count("failures")
        log.warning("%s: %s", self.url, error)
        return Completion(text=None, error=error, seconds=time.monotonic() - started)

    def _post(self, payload: bytes) -> bytes:
        """Send one request; return the body of a 2xx reply, or raise one of the attempt outcomes above."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            detail = _error_detail(err)
            message = f"HTTP {err.code} {err.reason}" + (f": {detail}" if detail else "")
            if err.code == 429 or err.code >= 500:
                raise _Retryable(message, _retry_after(err.headers.get("Retry-After"))) from None
            hint = {
                401: "; set api_key or $OPENAI_API_KEY",
                403: "; check the API key's permissions",
                404: f"; check base_url ({self.base_url}), api ({self.api}) and the model name ({self.model})",
            }.get(err.code, "; check the request: model name, max_tokens and stop")
            raise _Final(message + hint) from None
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = getattr(err, "reason", None) or err
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise _Retryable(f"no reply within the timeout of {self.timeout:g} s") from None
            raise _Retryable(
                f"could not reach {self.base_url} ({type(reason).__name__}: {reason}); is the server running?"
            ) from None

    def _parse(self, raw: bytes) -> str:
        try:
            reply = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _Malformed(f"not JSON: {_snippet(raw)}") from None
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _Malformed(f"no choices in {_snippet(raw)}")
        first = choices[0]
        if self.api == "chat":
            message = first.get("message")
            text = message.get("content") if isinstance(message, dict) else None
            field = "choices[0].message.content"
        else:
            text = first.get("text")
            field = "choices[0].text"
        if not isinstance(text, str):
            raise _Malformed(f"no string {field} in {_snippet(raw)}")
        return text

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        delay = self.backoff * 2**attempt
        with self._lock:
            return delay + self._rng.uniform(0.0, JITTER * delay)

    def _count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1

    def _cache_key(self, body: dict) -> str:
        canonical = json.dumps(
            {"base_url": self.base_url, "endpoint": self.endpoint, "body": body},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_read(self, key: str) -> str | None:
        path = self._cache_path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable cache entry, asking the server instead (%s)", path, err)
            return None
        text = entry.get("text") if isinstance(entry, dict) else None
        return text if isinstance(text, str) else None

    def _cache_write(self, key: str, text: str) -> None:
        """Write atomically, so that a reader (another thread or process) never sees half an entry."""
        path = self._cache_path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}-", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"text": text}, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as err:
            # A cache that cannot be written costs time on the next run, not this run's answers.
            log.warning(
                "%s: could not write the cache entry (%s); check that cache_dir is writable", path, err
            )
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)


def _retry_after(value: str | None) -> float | None:
    """A numeric Retry-After in seconds, capped; None for a missing one or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _error_detail(err: urllib.error.HTTPError) -> str:
    """The server's own message from an error reply (OpenAI-style ``{"error": {"message": ...}}`` or raw)."""
    try:
        raw = err.read()
    except (OSError, http.client.HTTPException):
        return ""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _snippet(raw)
    if isinstance(reply, dict):
        inner = reply.get("error", reply)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return _snippet(str(message).encode("utf-8"))
    return _snippet(raw)


def _snippet(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return "(empty body)"
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "..."
