"""Queue mode: a Redis Streams consumer inside the server, on its event loop, sharing its slots.

Each replica is one consumer of the group. It takes only as many messages as it has free slots
(HTTP predictions use the same slots), runs each through the prediction runner exactly like an
async HTTP request (webhooks included), then stores the result and acknowledges in one step.

Delivery is at least once, and each id is completed once:

* A message is acknowledged only together with its stored result (see `store.py`).
* A replica renews the messages it holds every `claim_idle / 3`; a message not renewed for
  `claim_idle` (its replica was killed, or lost Redis) is claimed by another replica and run again.
* An id whose result exists is acknowledged without running; of two runs of one id (the rare
  case above), the first stored result is kept and the second dropped.
* A message claimed more than `max_deliveries` times never finished anywhere: it is moved to the
  dead-letter stream, and a `failed` result says why. Malformed messages go there at once.
  Redelivered messages run one per replica at a time (see `_claim`), so a message that kills its
  replica does not use up the deliveries of those that were running beside it.
* Redis going away pauses reads and stores, retried with capped backoff; results wait in memory.

Cancel: `SET NAME:cancel:<id>` stops a queued prediction before it runs, `PUBLISH NAME:cancel <id>`
a running one (`Producer.cancel` does both). Drain: `stop_reading()` (on SIGTERM) stops taking
messages; `drain(grace)` lets held predictions finish until the grace is over, then cancels them,
and their `canceled` results are stored and acknowledged like any other; messages not yet started
are handed back (made claimable at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError

from cogkit.queue.adapter import ModelUnavailable, Rejected, RunnerAdapter, SlotTaken
from cogkit.queue.messages import Entry, MessageInvalid, failed_prediction, to_request
from cogkit.queue.metrics import Outcome, QueueMetrics
from cogkit.queue.settings import QueueSettings
from cogkit.queue.store import QueueStore, text
from cogkit.server.prediction import Prediction, PredictionRequest
from cogkit.server.runner import PredictionRunner

log = logging.getLogger("cogkit.queue")

T = TypeVar("T")

TRANSIENT = (ConnectionError, TimeoutError, ReadOnlyError)  # ReadOnlyError: a failover in progress
BACKOFF_START = 0.05
BACKOFF_CAP = 5.0
CANCEL_WAIT = 5.0  # past the grace, how long canceled predictions get to store their results
FORGET_AFTER = 600.0  # consumers unseen this long with nothing pending are removed from the group
SLOT_POLL = 0.02  # HTTP requests free slots without telling the consumer; it looks this often when full
IDLE_POLL = 0.1  # …and this often while the model is restarting
CLAIM_SCAN = 16  # abandoned entries looked at beyond the free slots (those to dead-letter need none)


class _GiveUp(Exception):
    """Redis stayed unreachable past the drain deadline."""


def consumer_name() -> str:
    """Unique per process: the hostname (the pod's name), the pid, and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(eq=False)
class Held:
    """A message this replica has taken and not yet finished."""

    entry: Entry
    prediction_id: str | None = None
    prediction: Prediction | bytes | None = None
    cancel_requested: bool = False
    admitted: bool = False  # holds a runner slot (or joined a known prediction)


class QueueConsumer:
    def __init__(
        self,
        settings: QueueSettings,
        runner: RunnerAdapter,
        metrics: QueueMetrics,
        *,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self.address = settings.address
        self.runner = runner
        self.metrics = metrics
        self.name = name or consumer_name()
        self.store = QueueStore(settings, self.name)
        self.held: dict[str, Held] = {}
        self._loop = asyncio.get_running_loop()
        self._admitting = 0
        self._stop = asyncio.Event()
        self._stopped_at: float | None = None
        self._deadline: float | None = None
        self._slot_freed = asyncio.Event()
        self._connected = True
        self._claim_now = False
        self._main: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._main = self._loop.create_task(self._run())

    def stop_reading(self) -> None:
        """Take no more messages. Safe to call from a signal handler."""
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        self._loop.call_soon_threadsafe(self._stop.set)

    async def drain(self, grace: float) -> None:
        """Finish what is held within `grace` of the stop, cancel the rest, store, then close."""
        self.stop_reading()
        await asyncio.sleep(0)  # let the stop event be set
        assert self._stopped_at is not None
        deadline = self._stopped_at + grace
        self._deadline = deadline + CANCEL_WAIT
        if self._main is not None:
            if self.held or not self._main.done():
                log.info("draining %d message(s) from %s", len(self.held), self.address.display)
            # The read loop ends within one read block; the first setup may still be running.
            await asyncio.wait([self._main], timeout=self.settings.read_block + 1)
            self._main.cancel()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=max(0.0, deadline - time.monotonic()))
        if self._handlers:
            running = [h.prediction_id for h in self.held.values() if h.prediction is not None]
            log.warning("grace over, canceling %d prediction(s): %s", len(running), running)
            for pid in running:
                if pid is not None:
                    await self._cancel(pid)
            await asyncio.wait(set(self._handlers), timeout=CANCEL_WAIT)
        for task in self._handlers | self._background:
            task.cancel()
        await asyncio.gather(*self._handlers, *self._background, return_exceptions=True)
        await self.store.close()

    async def _run(self) -> None:
        try:
            await self.runner.ready()
        except Exception as e:
            log.error("not consuming from %s: setup failed (%s)", self.address.display, e)
            return
        if self._stop.is_set():  # the server began to stop (or never bound its port) during setup
            return
        try:
            await self._redis(lambda: self.store.prepare(self.runner.schema), until_stopped=True)
        except _GiveUp:
            return
        self.metrics.connected.set(1)
        log.info("consuming from %s as %s", self.address.display, self.name)
        self._spawn(self._housekeeping())
        self._spawn(self._listen_for_cancels())
        while not self._stop.is_set():
            try:
                await self._read_loop()
            except Exception:  # e.g. WRONGTYPE: the stream's key holds something else
                log.exception("reading %s failed; trying again in %g s", self.address.display, BACKOFF_CAP)
                await _wait_event(self._stop, BACKOFF_CAP)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- taking messages ---------------------------------------------------------------------

    def _free_slots(self) -> int:
        return self.runner.free_slots - self._admitting

    async def _read_loop(self) -> None:
        next_claim = 0.0
        while not self._stop.is_set():
            self._slot_freed.clear()  # before looking, so that a slot freed after the look wakes us
            free = self._free_slots()
            if free <= 0 or not self.runner.accepting:
                poll = SLOT_POLL if self.runner.accepting else IDLE_POLL
                await _wait_event(self._slot_freed, poll)
                continue
            entries: list[Entry] = []
            try:
                if self._claim_now or time.monotonic() >= next_claim:
                    self._claim_now = False
                    next_claim = time.monotonic() + self.settings.heartbeat_interval
                    entries = await self._redis(functools.partial(self._claim, free), until_stopped=True)
                if not entries:
                    entries = await self._redis(functools.partial(self.store.read, free), until_stopped=True)
            except _GiveUp:
                break
            for entry in entries:
                self._take(entry)

    async def _claim(self, free: int) -> list[Entry]:
        """Claim abandoned messages: any past `max_deliveries` (to dead-letter them), never-run ones
        (handed back) up to the free slots, and one *suspect* at a time.

        A suspect is a message whose replica stopped while holding it. Running at most one per
        replica means that when a message kills its replica, the innocent ones beside it are not
        beside it again, so only the killer runs out of deliveries.
        """
        suspect_allowed = not any(held.entry.deliveries > 1 for held in self.held.values())
        chosen: dict[str, int] = {}
        for entry_id, deliveries in (await self.store.abandoned(free + CLAIM_SCAN)).items():
            if deliveries > self.settings.max_deliveries:
                chosen[entry_id] = deliveries
            elif free > 0 and (deliveries == 1 or suspect_allowed):
                chosen[entry_id] = deliveries
                free -= 1
                suspect_allowed = suspect_allowed and deliveries == 1
        return await self.store.claim(chosen)

    def _take(self, entry: Entry) -> None:
        if entry.entry_id in self.held:  # ours already: claimed back after an outage of Redis
            return
        held = self.held[entry.entry_id] = Held(entry)
        self._admitting += 1
        self.metrics.held.set(len(self.held))
        task = self._loop.create_task(self._handle(held))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, held: Held) -> None:
        entry = held.entry
        try:
            outcome = await self._process(held)
        except _GiveUp:
            log.warning("Redis is unreachable; %s stays pending for another replica", entry.entry_id)
            return
        except Exception:
            log.exception("message %s failed inside cogkit; handing it back", entry.entry_id)
            outcome = await self._hand_back(held)
        finally:
            if not held.admitted:
                self._admitting -= 1
            if entry.deliveries > 1:
                self._claim_now = True  # the next suspect may go now
            self.held.pop(entry.entry_id, None)
            self.metrics.held.set(len(self.held))
            self._slot_freed.set()
        if outcome is not None:
            self.metrics.count(outcome)

    async def _process(self, held: Held) -> Outcome | None:
        entry = held.entry
        try:
            request = to_request(entry)
        except MessageInvalid as e:
            held.prediction_id = e.prediction_id
            log.warning("dead-lettering %s: %s", entry.entry_id, e.reason)
            await self._finish(held, failed_prediction(e.prediction_id, e.reason), dead_reason=e.reason)
            return Outcome.DEAD_LETTERED
        assert request.id is not None
        pid = held.prediction_id = request.id
        if entry.deliveries > self.settings.max_deliveries:
            reason = (
                f"dead-lettered after {entry.deliveries - 1} deliveries: every replica that took this "
                "prediction stopped (killed, out of memory or cut off) before it finished"
            )
            log.warning("%s (entry %s) %s", pid, entry.entry_id, reason)
            await self._finish_unrun(held, request, reason, dead=True)
            return Outcome.DEAD_LETTERED
        has_result, canceled = await self._redis(lambda: self.store.before_run(pid))
        if has_result:
            await self._redis(lambda: self.store.ack(entry, pid))
            return Outcome.DUPLICATE
        held.cancel_requested |= canceled
        prediction = await self._admit(held, request)
        if prediction is None:
            return await self._hand_back(held)
        if isinstance(prediction, str):  # the runner refused the input: a final answer
            stored = await self._finish_unrun(held, request, prediction, dead=False)
            return Outcome.COMPLETED if stored else Outcome.DUPLICATE
        body = await self.runner.wait(prediction)
        stored = await self._finish(held, body)
        return Outcome.COMPLETED if stored else Outcome.DUPLICATE

    async def _admit(self, held: Held, request: PredictionRequest) -> Prediction | bytes | str | None:
        """The running prediction; its rejection as text; or None to hand the message back."""
        while not self._stop.is_set():
            try:
                prediction = await self.runner.start(request)
            except SlotTaken:  # an HTTP request won the race for the slot
                self._slot_freed.clear()
                await _wait_event(self._slot_freed, SLOT_POLL)
                continue
            except Rejected as e:
                return f"invalid input: {e}"
            except ModelUnavailable as e:
                log.warning("cannot run %s here: %s", request.id, e)
                return None
            held.admitted = True
            self._admitting -= 1
            held.prediction = prediction
            if held.cancel_requested:
                await self._cancel(request.id)
            return prediction
        return None

    # -- finishing ----------------------------------------------------------------------------

    async def _finish(self, held: Held, body: bytes, *, dead_reason: str | None = None) -> bool:
        assert held.prediction_id is not None
        pid = held.prediction_id
        return await self._redis(lambda: self.store.finish(held.entry, pid, body, dead_reason=dead_reason))

    async def _finish_unrun(self, held: Held, request: PredictionRequest, error: str, *, dead: bool) -> bool:
        """A final `failed` result for a request that did not run, with its webhook, as HTTP would send."""
        assert request.id is not None
        body = failed_prediction(request.id, error)
        stored = await self._finish(held, body, dead_reason=error if dead else None)
        if stored and request.webhook:
            self.runner.notify(request, body)
        return stored

    async def _hand_back(self, held: Held) -> Outcome | None:
        """Make a message that did not start here claimable by another replica at once."""
        self.held.pop(held.entry.entry_id, None)
        try:
            await self._redis(lambda: self.store.hand_back(held.entry, held.prediction_id))
        except _GiveUp:
            return None
        return Outcome.HANDED_BACK

    async def _cancel(self, prediction_id: str) -> None:
        try:
            await self.runner.cancel(prediction_id)
        except Exception as e:
            log.warning("could not cancel %s: %s", prediction_id, e)

    def _cancel_requested(self, prediction_id: str) -> None:
        for held in list(self.held.values()):
            if held.prediction_id == prediction_id and not held.cancel_requested:
                held.cancel_requested = True
                if held.prediction is not None:
                    self._spawn(self._cancel(prediction_id))

    # -- background ----------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Renew held messages, refresh the lag and pending gauges, forget long-dead consumers."""
        next_forget = time.monotonic() + FORGET_AFTER / 10
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            try:
                held = list(self.held)
                lost = set(held) - await self.store.touch(held)
                for entry_id in lost & set(self.held):
                    log.warning(
                        "another replica claimed %s while this one was cut off from Redis; "
                        "the first result stored is kept",
                        entry_id,
                    )
                lag, pending = await self.store.group_info()
                if lag is not None:
                    self.metrics.lag.set(lag)
                self.metrics.pending.set(pending)
                if time.monotonic() >= next_forget:
                    next_forget = time.monotonic() + FORGET_AFTER / 10
                    if gone := await self.store.forget_dead_consumers(FORGET_AFTER):
                        log.info("removed %d long-gone consumer(s) from the group", gone)
                self._reconnected()
            except TRANSIENT as e:
                self._disconnected(e)
            except Exception:  # e.g. NOGROUP while Redis comes back empty: the reader recreates it
                log.exception(
                    "renewing held messages failed; trying again in %g s", self.settings.heartbeat_interval
                )

    async def _listen_for_cancels(self) -> None:
        """Follow NAME:cancel; after each (re)subscription, ask the cancel keys what was missed."""
        delay = BACKOFF_START
        while True:
            pubsub = self.store.pubsub()
            try:
                await pubsub.subscribe(self.address.cancel_channel)
                pids = [h.prediction_id for h in self.held.values() if h.prediction_id is not None]
                for pid in await self.store.cancels_requested(pids):
                    self._cancel_requested(pid)
                delay = BACKOFF_START
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._cancel_requested(text(message["data"]))
            except TRANSIENT as e:
                self._disconnected(e)
            except Exception:  # e.g. NOPERM: an ACL that forbids SUBSCRIBE
                log.exception(
                    "following %s failed; running predictions cannot be canceled", self.address.cancel_channel
                )
                delay = BACKOFF_CAP
            finally:
                await pubsub.aclose()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_CAP)

    # -- Redis availability --------------------------------------------------------------------

    async def _redis(self, op: Callable[[], Awaitable[T]], *, until_stopped: bool = False) -> T:
        """Run `op`, retrying with capped, jittered backoff while Redis is unreachable.

        Gives up (`_GiveUp`) once the drain deadline has passed, or, with `until_stopped`, once
        reading has stopped. A group that vanished (Redis restarted empty) is created again.
        """
        delay = BACKOFF_START
        while True:
            try:
                result = await op()
            except TRANSIENT as e:
                self._disconnected(e)
            except ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise
                log.warning("the group is gone (did Redis lose its data?); creating it again: %s", e)
                try:
                    await self.store.prepare(self.runner.schema)
                    continue  # and retry at once
                except TRANSIENT as again:
                    self._disconnected(again)
            else:
                self._reconnected()
                return result
            if (until_stopped and self._stop.is_set()) or (
                self._deadline is not None and time.monotonic() + delay > self._deadline
            ):
                raise _GiveUp
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_CAP)

    def _disconnected(self, error: Exception) -> None:
        if self._connected:
            self._connected = False
            self.metrics.connected.set(0)
            log.warning("Redis at %s is unreachable (%s); retrying", self.address.display, error)

    def _reconnected(self) -> None:
        if not self._connected:
            self._connected = True
            self.metrics.connected.set(1)
            log.info("Redis at %s answers again", self.address.display)


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


def start_consumer(
    settings: QueueSettings, runner: PredictionRunner, registry: CollectorRegistry
) -> QueueConsumer:
    """Start consuming for `runner` (on the running loop); its metrics go on the server's registry."""
    consumer = QueueConsumer(settings, RunnerAdapter(runner), QueueMetrics(registry, settings.address))
    consumer.start()
    return consumer
