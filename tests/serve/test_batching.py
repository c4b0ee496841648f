"""Dynamic micro-batching of /parse requests: concurrent requests share a model run and each gets its own
answer; a lone request does not wait; a failing batch fails only its own requests."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from nlu.prediction import Prediction
from nlu.serve import create_app
from nlu.serve.batching import MicroBatcher


class SlowModel:
    """A stand-in parse_batch that takes ``seconds`` per run and records the batches it saw."""

    def __init__(self, seconds: float = 0.02, fail_on: str | None = None) -> None:
        self.seconds, self.fail_on, self.batches = seconds, fail_on, []
        self.lock = threading.Lock()

    def __call__(self, texts):
        with self.lock:  # one run at a time, as the batcher promises
            self.batches.append(list(texts))
            time.sleep(self.seconds)
        if self.fail_on in texts:
            raise RuntimeError("model failed")
        return [Prediction(text=t, intent=f"intent-of-{t}", intent_confidence=1.0) for t in texts]


def run(coro):
    return asyncio.run(coro)


def test_concurrent_requests_share_runs_and_each_gets_its_own_answer():
    model = SlowModel()
    batcher = MicroBatcher(model, max_size=8)

    async def main():
        return await asyncio.gather(*(batcher.parse(f"t{i}") for i in range(30)))

    predictions = run(main())
    assert [p.intent for p in predictions] == [f"intent-of-t{i}" for i in range(30)]
    sizes = [len(b) for b in model.batches]
    assert sum(sizes) == 30 and max(sizes) == 8 and len(sizes) < 30  # batched, never above max_size
    assert batcher.stats.as_dict()["texts"] == 30 and batcher.stats.largest == 8


def test_a_lone_request_is_parsed_at_once():
    model = SlowModel(seconds=0.0)
    batcher = MicroBatcher(model, max_size=16, max_wait=0.0)

    async def main():
        started = time.perf_counter()
        prediction = await batcher.parse("hello")
        return prediction, time.perf_counter() - started

    prediction, seconds = run(main())
    assert prediction.intent == "intent-of-hello" and model.batches == [["hello"]]
    assert seconds < 0.5


def test_the_first_request_waits_up_to_max_wait_for_company():
    model = SlowModel(seconds=0.0)
    batcher = MicroBatcher(model, max_size=16, max_wait=0.2)

    async def main():
        first = asyncio.ensure_future(batcher.parse("a"))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(batcher.parse("b"))
        return await asyncio.gather(first, second)

    run(main())
    assert model.batches == [["a", "b"]]


def test_a_failing_batch_fails_its_requests_only_and_the_batcher_goes_on():
    model = SlowModel(fail_on="boom")
    batcher = MicroBatcher(model, max_size=1)

    async def main():
        results = await asyncio.gather(batcher.parse("boom"), batcher.parse("fine"), return_exceptions=True)
        after = await batcher.parse("later")
        return results, after

    (failed, fine), after = run(main())
    assert isinstance(failed, RuntimeError) and fine.intent == "intent-of-fine"
    assert after.intent == "intent-of-later"


def test_a_text_that_fails_fails_alone_not_the_batch_it_shared():
    model = SlowModel(seconds=0.01, fail_on="boom")
    batcher = MicroBatcher(model, max_size=8)

    async def main():
        texts = ["a", "b", "boom", "c", "d"]
        return await asyncio.gather(*(batcher.parse(t) for t in texts), return_exceptions=True)

    results = run(main())
    assert isinstance(results[2], RuntimeError)
    assert [r.intent for i, r in enumerate(results) if i != 2] == [f"intent-of-{t}" for t in "abcd"]


def test_two_event_loops_at_once_each_get_their_answers():
    """A batcher shared by two threads, each with its own event loop (a test client's and a server's)."""
    model = SlowModel(seconds=0.005)
    batcher = MicroBatcher(model, max_size=4)

    def one_loop(prefix: str):
        async def main():
            return await asyncio.wait_for(
                asyncio.gather(*(batcher.parse(f"{prefix}{i}") for i in range(20))), timeout=20
            )

        return [p.intent for p in asyncio.run(main())]

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(one_loop, ["x", "y"])
    assert first == [f"intent-of-x{i}" for i in range(20)] and second == [
        f"intent-of-y{i}" for i in range(20)
    ]


def test_settings_are_checked():
    with pytest.raises(ValueError, match="max_size"):
        MicroBatcher(SlowModel(), max_size=0)
    for wait in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_wait"):
            MicroBatcher(SlowModel(), max_wait=wait)


def test_the_server_batches_concurrent_requests_with_the_answers_of_single_parses(parser, start_server):
    texts = [f"book a flight from boston to denver {'please ' * (i % 5)}".strip() for i in range(40)]
    texts += [f"play the song number {i}" for i in range(40)]
    expected = [parser.parse(t) for t in texts]
    app = create_app(parser=parser, micro_batch=8)
    with (
        start_server(app) as base,
        httpx.Client(base_url=base, timeout=60) as client,
        ThreadPoolExecutor(max_workers=32) as pool,
    ):
        responses = list(pool.map(lambda t: client.post("/parse", json={"text": t}), texts))
    assert [r.status_code for r in responses] == [200] * len(texts)
    stats = app.state.batcher.stats
    assert stats.texts == len(texts) and stats.runs < len(texts) and stats.largest <= 8
    for response, prediction in zip(responses, expected, strict=True):
        body = response.json()
        assert body["text"] == prediction.text and body["intent"]["name"] == prediction.intent
        assert body["intent"]["confidence"] == pytest.approx(prediction.intent_confidence, abs=1e-4)
        assert [(e["entity"], e["start"], e["end"]) for e in body["entities"]] == [
            (e.entity, e.start, e.end) for e in prediction.entities
        ]


def test_micro_batch_one_parses_each_request_alone(parser):
    assert create_app(parser=parser, micro_batch=1).state.batcher is None
    with pytest.raises(ValueError, match="micro_batch"):
        create_app(parser=parser, micro_batch=0)


def test_workers_read_the_batching_settings_from_the_environment(monkeypatch, artifact_dir):
    from nlu.errors import ArtifactError
    from nlu.serve.app import app_from_env

    monkeypatch.setenv("NLU_SERVE_ARTIFACT", str(artifact_dir))
    monkeypatch.setenv("NLU_SERVE_MICRO_BATCH", "4")
    monkeypatch.setenv("NLU_SERVE_MICRO_BATCH_WAIT", "0.002")
    app = app_from_env()
    assert (app.state.batcher.max_size, app.state.batcher.max_wait) == (4, 0.002)
    monkeypatch.setenv("NLU_SERVE_MICRO_BATCH", "0")
    with pytest.raises(ArtifactError, match="NLU_SERVE_MICRO_BATCH='0'"):
        app_from_env()
    monkeypatch.setenv("NLU_SERVE_MICRO_BATCH", "4")
    for bad in ("abc", "nan", "-1"):
        monkeypatch.setenv("NLU_SERVE_MICRO_BATCH_WAIT", bad)
        with pytest.raises(ArtifactError, match="NLU_SERVE_MICRO_BATCH_WAIT"):
            app_from_env()


def test_cli_serve_takes_the_batching_flags(monkeypatch, artifact_dir):
    from typer.testing import CliRunner

    import nlu.serve
    from nlu.cli.main import app

    seen = {}
    monkeypatch.setattr(nlu.serve, "run_server", lambda *args, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(
        app, ["serve", str(artifact_dir), "--micro-batch", "4", "--micro-batch-wait", "2"]
    )
    assert result.exit_code == 0, result.output
    assert seen["micro_batch"] == 4 and seen["micro_batch_wait"] == pytest.approx(0.002)
    for bad in (["--micro-batch", "0"], ["--micro-batch-wait", "nan"], ["--micro-batch-wait", "inf"]):
        result = CliRunner().invoke(app, ["serve", str(artifact_dir), *bad])
        assert result.exit_code == 2, bad
