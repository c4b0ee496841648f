"""Dynamic micro-batching: the ``/parse`` requests that are waiting when the model becomes free share one
onnxruntime run.

One onnxruntime run over 16 utterances costs far less than 16 runs over one (the matrix products fill the
vector units; the Python around a run is paid once), so under concurrent load a server answers more requests
per second by parsing the waiting ones together. At low load there is nothing to wait for: a lone request is
parsed at once, as without batching, unless ``max_wait`` asks the batcher to hold the first request of a batch
that long for company (the usual latency-for-throughput trade).

The batcher keeps one run in flight per worker (a second run would only share the same cores): while it runs,
new requests queue; when it ends, up to ``max_size`` of them, oldest first, form the next batch. A batch's
predictions are those of :meth:`nlu.runtime.Parser.parse_batch`, the same as parsing each text alone up to
rounding in the last digits of a confidence (the padding of a batch changes the order of float sums).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from nlu.prediction import Prediction

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16  # most /parse requests in one run
DEFAULT_BATCH_WAIT = 0.0  # seconds the first request of a batch waits for others (0: none)


@dataclass
class BatchStats:
    """What the batcher did since it started: runs, the texts they parsed, the largest batch."""

    runs: int = 0
    texts: int = 0
    largest: int = 0

    def as_dict(self) -> dict:
        mean = self.texts / self.runs if self.runs else 0.0
        return {"runs": self.runs, "texts": self.texts, "largest": self.largest, "mean_batch": round(mean, 2)}


class _Lane:
    """One event loop's queue and worker task (a batcher serves each loop that calls it on its own)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[tuple[str, asyncio.Future, float]] = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.loop = loop


class MicroBatcher:
    """``await batcher.parse(text)`` -> the text's :class:`Prediction`, parsed together with the other texts
    waiting at the time (at most ``max_size``; the oldest waits at most ``max_wait`` seconds after it arrived).

    ``parse_batch`` is the parser's batch verb; it runs in a worker thread, one batch at a time per event loop.
    When a batch fails, its texts are parsed again one by one, so that only the text that fails gets the
    exception. Each event loop that calls the batcher gets its own queue and worker task; if a worker ever
    stops, the requests it held fail instead of waiting forever.
    """

    def __init__(
        self,
        parse_batch: Callable[[Sequence[str]], list[Prediction]],
        max_size: int = DEFAULT_BATCH_SIZE,
        max_wait: float = DEFAULT_BATCH_WAIT,
    ) -> None:
        if max_size < 1 or not (math.isfinite(max_wait) and max_wait >= 0):
            raise ValueError(
                f"max_size must be at least 1 and max_wait a number of seconds >= 0, got {max_size}, {max_wait}"
            )
        self.parse_batch = parse_batch
        self.max_size = max_size
        self.max_wait = max_wait
        self.stats = BatchStats()
        self._lanes: dict[asyncio.AbstractEventLoop, _Lane] = {}

    async def parse(self, text: str) -> Prediction:
        """The prediction for ``text`` (raises what parsing it raised)."""
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            self._lanes = {k: v for k, v in self._lanes.items() if not k.is_closed()}
            lane = self._lanes[loop] = _Lane(loop)
        if lane.worker is None or lane.worker.done():
            lane.worker = loop.create_task(self._run(lane))
            lane.worker.add_done_callback(lambda task, lane=lane: self._fail_waiting(lane, task))
        future = loop.create_future()
        await lane.queue.put((text, future, time.monotonic()))
        return await future

    async def _run(self, lane: _Lane) -> None:
        while True:
            batch = [await lane.queue.get()]
            await self._fill(lane, batch)
            batch = [(text, future) for text, future, _ in batch if not future.done()]  # a cancelled waiter
            if not batch:
                continue
            try:
                await self._answer(batch)
            except BaseException:  # cancelled at shutdown (or a bug): the batch in hand fails, not hangs
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the server stopped before answering"))
                raise

    async def _answer(self, batch: list[tuple[str, asyncio.Future]]) -> None:
        """Parse ``batch`` in one run and answer each waiter; if the run fails, each text alone."""
        try:
            predictions = await run_in_threadpool(self.parse_batch, [text for text, _ in batch])
            if len(predictions) != len(batch):
                raise RuntimeError(f"parse_batch gave {len(predictions)} predictions for {len(batch)} texts")
        except Exception as err:
            if len(batch) > 1:  # one bad text must not fail the others that shared its run
                for one in batch:
                    await self._answer([one])
                return
            if not batch[0][1].done():
                batch[0][1].set_exception(err)
            return
        self.stats.runs += 1
        self.stats.texts += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        for (_, future), prediction in zip(batch, predictions, strict=True):
            if not future.done():
                future.set_result(prediction)

    async def _fill(self, lane: _Lane, batch: list) -> None:
        """Add the waiting requests to ``batch``, up to ``max_size``, waiting for more until ``max_wait`` after
        the oldest one arrived."""
        deadline = batch[0][2] + self.max_wait
        while len(batch) < self.max_size:
            if not lane.queue.empty():
                batch.append(lane.queue.get_nowait())
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(lane.queue.get(), left))
            except asyncio.TimeoutError:  # noqa: UP041 - not the builtin TimeoutError on Python 3.10
                return

    def _fail_waiting(self, lane: _Lane, task: asyncio.Task) -> None:
        """The worker stopped (cancelled at shutdown, or a bug): every request still queued fails."""
        error = RuntimeError("the server's batching worker stopped; send the request again")
        if not task.cancelled() and task.exception() is not None:
            logger.error("the batching worker failed", exc_info=task.exception())
        while not lane.queue.empty():
            _, future, _ = lane.queue.get_nowait()
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        """Stop the worker tasks (the server is shutting down); what they held fails."""
        for lane in self._lanes.values():
            if lane.worker is not None and not lane.loop.is_closed():
                lane.worker.cancel()
