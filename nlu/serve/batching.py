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


class MicroBatcher:
    """``await batcher.parse(text)`` -> the text's :class:`Prediction`, parsed together with the other texts
    waiting at the time (at most ``max_size``; the first waits up to ``max_wait`` seconds for them).

    ``parse_batch`` is the parser's batch verb; it runs in a worker thread, one batch at a time. An exception
    it raises reaches every request of that batch (and only those). The queue and the worker task live in the
    event loop of the calls (made again if a call comes from another loop).
    """

    def __init__(
        self,
        parse_batch: Callable[[Sequence[str]], list[Prediction]],
        max_size: int = DEFAULT_BATCH_SIZE,
        max_wait: float = DEFAULT_BATCH_WAIT,
    ) -> None:
        if max_size < 1 or max_wait < 0:
            raise ValueError(
                f"max_size must be at least 1 and max_wait at least 0, got {max_size}, {max_wait}"
            )
        self.parse_batch = parse_batch
        self.max_size = max_size
        self.max_wait = max_wait
        self.stats = BatchStats()
        self._queue: asyncio.Queue[tuple[str, asyncio.Future]] | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def parse(self, text: str) -> Prediction:
        """The prediction for ``text`` (raises what the batch's ``parse_batch`` raised)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # the first call, or a new loop (a test client's): start over in this one
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        future = loop.create_future()
        await self._queue.put((text, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            await self._fill(batch)
            batch = [(text, future) for text, future in batch if not future.cancelled()]  # clients gone
            if not batch:
                continue
            try:
                predictions = await run_in_threadpool(self.parse_batch, [text for text, _ in batch])
                if len(predictions) != len(batch):
                    raise RuntimeError(
                        f"parse_batch gave {len(predictions)} predictions for {len(batch)} texts"
                    )
            except Exception as err:  # the batch's requests fail with it; the batcher goes on
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.stats.runs += 1
            self.stats.texts += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            for (_, future), prediction in zip(batch, predictions, strict=True):
                if not future.done():
                    future.set_result(prediction)

    async def _fill(self, batch: list) -> None:
        """Add the waiting requests to ``batch``, up to ``max_size``; wait up to ``max_wait`` for more."""
        assert self._queue is not None
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), left))
            except asyncio.TimeoutError:  # noqa: UP041 - not the builtin TimeoutError on Python 3.10
                return

    def close(self) -> None:
        """Stop the worker task (the server is shutting down)."""
        if self._worker is not None:
            self._worker.cancel()
