"""The starlette app around :class:`nlu.runtime.Parser`, and ``run_server`` that puts it on uvicorn.

Endpoints (every answer is JSON; every error is ``{"error": "..."}`` saying what to send instead):

- ``POST /parse`` and the Rasa-compatible ``POST /model/parse``: ``{"text": "..."}`` (Rasa's optional
  ``message_id`` is echoed back) -> ``Prediction.to_dict()``, Rasa 3's parse result: ``intent`` with ``id``,
  ``name`` and ``confidence``; entities with ``confidence_entity``, ``extractor``, ``role``/``group`` and the
  synonym's canonical ``value``; button payloads (``/intent{"entity": "value"}``) parsed as Rasa does; with
  ``fallback_threshold``/``ambiguity_threshold``, ``nlu_fallback`` as Rasa's FallbackClassifier gives it
  (:mod:`nlu.rules`).
- ``POST /parse/batch``: ``{"texts": ["...", ...]}`` -> ``{"predictions": [...]}``, at most ``max_batch`` texts.
- ``GET /health`` -> ``{"status": "ok"}``; ``GET /version`` -> the model's metadata from its manifest.

Concurrent ``/parse`` requests are parsed together (:mod:`nlu.serve.batching`): those waiting when the model
becomes free share one onnxruntime run, at most ``micro_batch`` of them (1: each alone), the first waiting up to
``micro_batch_wait`` seconds for company (default 0: a lone request never waits).

Bad input is a 400, a body over ``max_body`` bytes a 413 (whether or not it declares a Content-Length), a wrong
method a 405 and an unknown path a 404. Parsing runs in starlette's thread pool: onnxruntime releases the GIL,
and one :class:`Parser` is shared by all requests of a worker (it keeps no per-call state).

Several workers (``run_server(..., workers=N)``) are separate processes started by uvicorn from the import
string ``nlu.serve.app:app_from_env``; each builds its app from these environment variables, which
``run_server`` sets:

- ``NLU_SERVE_ARTIFACT``: the artifact directory (required)
- ``NLU_SERVE_THREADS``: onnxruntime threads per worker (default 1)
- ``NLU_SERVE_MAX_BODY``: largest request body in bytes (default 65536)
- ``NLU_SERVE_MAX_BATCH``: most texts in one ``/parse/batch`` request (default 64)
- ``NLU_SERVE_BODY_TIMEOUT``: seconds for a request body to arrive whole (default 10; 408 after)
- ``NLU_SERVE_MICRO_BATCH``, ``NLU_SERVE_MICRO_BATCH_WAIT``: most ``/parse`` requests in one model run (default
  16; 1: none) and the seconds the first waits for others (default 0)
- ``NLU_SERVE_FALLBACK_THRESHOLD``, ``NLU_SERVE_AMBIGUITY_THRESHOLD``: the fallback intent's thresholds (default:
  none, no fallback)

The same variables serve any other ASGI server, e.g. ``NLU_SERVE_ARTIFACT=artifacts/atis gunicorn -k
uvicorn.workers.UvicornWorker 'nlu.serve.app:app_from_env()'``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import nlu
from nlu.data.bio import split_slot_type
from nlu.data.labels import LabelVocab
from nlu.errors import ArtifactError
from nlu.runtime import Parser
from nlu.serve.batching import DEFAULT_BATCH_SIZE, DEFAULT_BATCH_WAIT, MicroBatcher

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 64 * 1024
DEFAULT_BODY_TIMEOUT = 10.0  # seconds for a whole request body to arrive
DEFAULT_MAX_BATCH = 64

ENV_ARTIFACT = "NLU_SERVE_ARTIFACT"
ENV_THREADS = "NLU_SERVE_THREADS"
ENV_MAX_BODY = "NLU_SERVE_MAX_BODY"
ENV_MAX_BATCH = "NLU_SERVE_MAX_BATCH"
ENV_BODY_TIMEOUT = "NLU_SERVE_BODY_TIMEOUT"
ENV_MICRO_BATCH = "NLU_SERVE_MICRO_BATCH"
ENV_MICRO_BATCH_WAIT = "NLU_SERVE_MICRO_BATCH_WAIT"
ENV_FALLBACK_THRESHOLD = "NLU_SERVE_FALLBACK_THRESHOLD"
ENV_AMBIGUITY_THRESHOLD = "NLU_SERVE_AMBIGUITY_THRESHOLD"

ENDPOINTS = "POST /parse, POST /model/parse, POST /parse/batch, GET /health, GET /version"
PARSE_EXAMPLE = '{"text": "turn on the kitchen lights"}'
BATCH_EXAMPLE = '{"texts": ["turn on the kitchen lights", "play some jazz"]}'


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


async def _read_body(request: Request, max_body: int, timeout: float = DEFAULT_BODY_TIMEOUT) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_body`` bytes: from the
    Content-Length header before reading anything, else while counting the bytes of a chunked stream, so an
    oversized body is never held in memory. A body that has not arrived whole within ``timeout`` seconds (a
    client that declared more bytes than it sends, or a very slow one) is answered 408 and the connection
    closed, instead of holding it open forever."""
    try:
        return await asyncio.wait_for(_collect_body(request, max_body), timeout)
    except asyncio.TimeoutError:
        raise HTTPException(
            408,
            f"the request body did not arrive within {timeout:g} s (is Content-Length larger than the body?)",
            headers={"Connection": "close"},
        ) from None


async def _collect_body(request: Request, max_body: int) -> bytes:
    too_large = HTTPException(
        413,
        f"request body larger than {max_body} bytes; send shorter text, or split a batch into smaller ones",
        headers={
            "Connection": "close"
        },  # the rest of the body is never read, so the connection can't be reused
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, f"Content-Length must be a number of bytes, got {declared!r}")
        if int(declared) > max_body:
            raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                raise too_large
    except ClientDisconnect:
        raise HTTPException(400, "the client closed the connection before sending the whole body") from None
    return bytes(body)


async def _read_object(request: Request, max_body: int, example: str, timeout: float) -> dict:
    body = await _read_body(request, max_body, timeout)
    if not body.strip():
        raise HTTPException(400, f"empty request body; send a JSON object such as {example}")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise HTTPException(
            400, f"the body is not valid JSON ({err}); send a JSON object such as {example}"
        ) from None
    if not isinstance(payload, dict):
        raise HTTPException(
            400, f"expected a JSON object such as {example}, got a JSON {_json_type(payload)}"
        )
    return payload


def _checked_text(value: object, where: str, example: str) -> str:
    if not isinstance(value, str):
        raise HTTPException(400, f"{where} must be a string, got a JSON {_json_type(value)}; send {example}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800": valid JSON, but not text
        raise HTTPException(
            400, f"{where} is not valid Unicode (it holds a lone surrogate escape); send {example}"
        ) from None
    return value


def model_info(parser: Parser) -> dict:
    """What ``GET /version`` reports: the model's metadata from its manifest, without the label lists' tags."""
    manifest = parser.manifest
    files = manifest.get("files", {})
    vocab = LabelVocab(parser.intent_labels, parser.slot_labels)
    return {
        "artifact": parser.artifact_dir.name,
        "nlu_version": manifest.get("nlu_version"),  # the toolkit that exported the model
        "server_nlu_version": nlu.__version__,
        "format_version": manifest.get("format_version"),
        "architecture": manifest.get("architecture"),
        "decoding": manifest.get("decoding", {}).get("type", "softmax"),
        "quantization": manifest.get("quantization"),
        "optimized": manifest.get("optimized"),
        "max_seq_length": parser.max_seq_length,
        "num_intent_labels": len(parser.intent_labels),  # index 0 is UNK, never predicted
        "num_slot_labels": len(parser.slot_labels),
        "intents": vocab.known_intents,
        "entities": sorted({split_slot_type(kind)[0] for kind in vocab.slot_types}),  # without #role@group
        "model_sha256": files.get(manifest.get("model_file", "model.onnx")),
        "tokenizer_sha256": files.get(manifest.get("tokenizer_file", "tokenizer.json")),
        "fallback": {
            "threshold": parser.rules.fallback_threshold,
            "ambiguity_threshold": parser.rules.ambiguity_threshold,
        },
    }


@dataclass(frozen=True)
class ServerSettings:
    """The limits a server holds every request to (see :func:`create_app`)."""

    max_body: int = DEFAULT_MAX_BODY
    max_batch: int = DEFAULT_MAX_BATCH
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    micro_batch: int = DEFAULT_BATCH_SIZE  # most /parse requests in one model run (1: each alone)
    micro_batch_wait: float = DEFAULT_BATCH_WAIT  # seconds the first of a batch waits for others


async def _parse(request: Request) -> Response:
    parser, settings = request.app.state.parser, request.app.state.settings
    payload = await _read_object(request, settings.max_body, PARSE_EXAMPLE, settings.body_timeout)
    if "text" not in payload:
        raise HTTPException(400, f'missing "text"; send {PARSE_EXAMPLE}')
    text = _checked_text(payload["text"], '"text"', PARSE_EXAMPLE)
    message_id = payload.get("message_id")  # Rasa's optional field, returned as given
    if message_id is not None and (isinstance(message_id, bool) or not isinstance(message_id, (str, int))):
        raise HTTPException(400, f'"message_id" must be a string, got a JSON {_json_type(message_id)}')
    batcher: MicroBatcher | None = request.app.state.batcher
    prediction = await (batcher.parse(text) if batcher else run_in_threadpool(parser.parse, text))
    result = prediction.to_dict()
    if message_id is not None:
        result["message_id"] = message_id
    return JSONResponse(result)


async def _parse_batch(request: Request) -> Response:
    parser, settings = request.app.state.parser, request.app.state.settings
    payload = await _read_object(request, settings.max_body, BATCH_EXAMPLE, settings.body_timeout)
    if "texts" not in payload:
        raise HTTPException(400, f'missing "texts"; send {BATCH_EXAMPLE}')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise HTTPException(400, f'"texts" must be an array of strings, got a JSON {_json_type(texts)}')
    if len(texts) > settings.max_batch:
        raise HTTPException(
            413,
            f"{len(texts)} texts in one batch; this server takes at most {settings.max_batch}: split the batch",
        )
    texts = [_checked_text(t, f'"texts"[{i}]', BATCH_EXAMPLE) for i, t in enumerate(texts)]
    predictions = await run_in_threadpool(parser.parse_batch, texts)
    return JSONResponse({"predictions": [p.to_dict() for p in predictions]})


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _version(request: Request) -> Response:
    return JSONResponse(request.app.state.info)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail
    if exc.status_code == 404:
        message = f"no endpoint {request.url.path}; this server has {ENDPOINTS}"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Reached only by a bug: the exception and its traceback go to the log, not to the client.
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal server error; the server log has the details"}, status_code=500)


ROUTES = [
    Route("/parse", _parse, methods=["POST"]),
    Route("/model/parse", _parse, methods=["POST"]),
    Route("/parse/batch", _parse_batch, methods=["POST"]),
    Route("/health", _health, methods=["GET"]),
    Route("/version", _version, methods=["GET"]),
]


def create_app(
    artifact_dir: str | Path | None = None,
    threads: int = 1,
    max_body: int = DEFAULT_MAX_BODY,
    parser: Parser | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    fallback_threshold: float | None = None,
    ambiguity_threshold: float | None = None,
    micro_batch: int = DEFAULT_BATCH_SIZE,
    micro_batch_wait: float = DEFAULT_BATCH_WAIT,
) -> Starlette:
    """The ASGI app. Loads the artifact now (raising :class:`ArtifactError` if it is bad) unless a loaded
    ``parser`` is given. ``threads``: onnxruntime intra-op threads; ``max_body``: largest request body in bytes;
    ``max_batch``: most texts in one ``/parse/batch`` request; ``body_timeout``: seconds for a request body to
    arrive whole (408 after); ``fallback_threshold``/``ambiguity_threshold``: answer ``nlu_fallback`` below that
    intent confidence or margin between the top two intents (None: the parser's own rules); ``micro_batch``:
    most ``/parse`` requests parsed in one model run (1: each alone), ``micro_batch_wait``: seconds the first of
    them waits for others (:mod:`nlu.serve.batching`)."""
    if (
        max_body < 1
        or max_batch < 1
        or body_timeout <= 0
        or micro_batch < 1
        or not (math.isfinite(micro_batch_wait) and micro_batch_wait >= 0)
    ):
        raise ValueError(
            "max_body, max_batch and micro_batch must be at least 1, body_timeout above 0 and micro_batch_wait "
            f"at least 0, got {max_body}, {max_batch}, {micro_batch}, {body_timeout}, {micro_batch_wait}"
        )
    if parser is None:
        if artifact_dir is None:
            raise ArtifactError("create_app needs an artifact directory (or a loaded parser)")
        parser = Parser.load(artifact_dir, num_threads=threads)
    if (fallback_threshold, ambiguity_threshold) != (None, None):
        parser.rules = parser.rules.with_fallback(fallback_threshold, ambiguity_threshold)
    app = Starlette(
        routes=ROUTES,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=_lifespan,
    )
    app.state.parser = parser
    app.state.settings = ServerSettings(max_body, max_batch, body_timeout, micro_batch, micro_batch_wait)
    app.state.batcher = (
        MicroBatcher(parser.parse_batch, micro_batch, micro_batch_wait) if micro_batch > 1 else None
    )
    app.state.info = model_info(parser) | {"limits": {"max_body_bytes": max_body, "max_batch": max_batch}}
    return app


@asynccontextmanager
async def _lifespan(app: Starlette):
    yield
    if app.state.batcher is not None:  # at shutdown: the batching worker stops, and what it held fails
        app.state.batcher.close()


def app_from_env() -> Starlette:
    """The app of one uvicorn worker process, configured by the ``NLU_SERVE_*`` environment variables (see
    the module docstring). uvicorn calls it once per worker: ``uvicorn --factory nlu.serve.app:app_from_env``."""
    artifact_dir = os.environ.get(ENV_ARTIFACT)
    if not artifact_dir:
        raise ArtifactError(
            f"set {ENV_ARTIFACT} to the artifact directory to serve (written by `nlu export`)"
        )
    return create_app(
        artifact_dir,
        threads=_env_int(ENV_THREADS, 1),
        max_body=_env_int(ENV_MAX_BODY, DEFAULT_MAX_BODY),
        max_batch=_env_int(ENV_MAX_BATCH, DEFAULT_MAX_BATCH),
        body_timeout=float(os.environ.get(ENV_BODY_TIMEOUT) or DEFAULT_BODY_TIMEOUT),
        fallback_threshold=_env_fraction(ENV_FALLBACK_THRESHOLD),
        ambiguity_threshold=_env_fraction(ENV_AMBIGUITY_THRESHOLD),
        micro_batch=_env_int(ENV_MICRO_BATCH, DEFAULT_BATCH_SIZE),
        micro_batch_wait=_env_seconds(ENV_MICRO_BATCH_WAIT, DEFAULT_BATCH_WAIT),
    )


def _env_fraction(name: str) -> float | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise ArtifactError(f"{name}={value!r}: expected a number between 0 and 1")
    return fraction


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ArtifactError(f"{name}={value!r}: expected a number of seconds, 0 or more")
    return seconds


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) < 1:
        raise ArtifactError(f"{name}={value!r}: expected a positive whole number")
    return int(value)


def run_server(
    artifact_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 5005,
    workers: int = 1,
    threads: int = 1,
    max_body: int = DEFAULT_MAX_BODY,
    max_batch: int = DEFAULT_MAX_BATCH,
    access_log: bool = False,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    fallback_threshold: float | None = None,
    ambiguity_threshold: float | None = None,
    micro_batch: int = DEFAULT_BATCH_SIZE,
    micro_batch_wait: float = DEFAULT_BATCH_WAIT,
) -> None:
    """Serve ``artifact_dir`` on uvicorn until interrupted. ``fallback_threshold``/``ambiguity_threshold``: the
    fallback intent; ``micro_batch``/``micro_batch_wait``: the batching of concurrent requests, as in
    :func:`create_app`.

    ``access_log`` is off by default: a log line per request costs about as much as a parse.

    The artifact is loaded (and its checksums verified) before the port is bound, so a bad one raises
    :class:`ArtifactError` at once. With ``workers > 1`` uvicorn starts that many processes from the import
    string ``nlu.serve.app:app_from_env``; the settings reach them through ``NLU_SERVE_*`` environment variables
    and each loads its own parser.
    """
    import uvicorn

    parser = Parser.load(artifact_dir, num_threads=threads)
    info = model_info(parser)
    logger.info(
        "starting %s (%s, %d intents, quantization %s) on http://%s:%d with %d worker(s) x %d onnxruntime thread(s)",
        artifact_dir,
        info["architecture"],
        len(info["intents"]),
        info["quantization"],
        f"[{host}]" if ":" in host else host,
        port,
        workers,
        threads,
    )
    if workers == 1:
        app = create_app(
            artifact_dir,
            max_body=max_body,
            max_batch=max_batch,
            parser=parser,
            body_timeout=body_timeout,
            fallback_threshold=fallback_threshold,
            ambiguity_threshold=ambiguity_threshold,
            micro_batch=micro_batch,
            micro_batch_wait=micro_batch_wait,
        )
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)
        return
    del parser  # only the check: each worker process loads its own
    os.environ.update(
        {
            ENV_ARTIFACT: str(Path(artifact_dir).resolve()),
            ENV_THREADS: str(threads),
            ENV_MAX_BODY: str(max_body),
            ENV_MAX_BATCH: str(max_batch),
            ENV_BODY_TIMEOUT: str(body_timeout),
            ENV_FALLBACK_THRESHOLD: "" if fallback_threshold is None else str(fallback_threshold),
            ENV_AMBIGUITY_THRESHOLD: "" if ambiguity_threshold is None else str(ambiguity_threshold),
            ENV_MICRO_BATCH: str(micro_batch),
            ENV_MICRO_BATCH_WAIT: str(micro_batch_wait),
        }
    )
    uvicorn.run(
        "nlu.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )
