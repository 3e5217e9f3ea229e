"""The Redis side of a consumer: every command it sends, and the scripts that keep them atomic.

Invariants, each held by one Lua script so that a crash between two commands cannot break it:

* `finish`: the result is stored (SET NX, with a TTL) and the entry acknowledged in one step. The
  first result for an id wins; a later one (a message delivered twice) is acknowledged and dropped.
  A dead-lettered message is copied to NAME:dead in that same step.
* `touch`: a replica renews only the entries it still owns. Renewing with XCLAIM alone would
  steal back a message that another replica claimed while this one was cut off from Redis.
* `hand_back`: an entry is made claimable and its delivery uncounted only while this consumer owns it.
* `forget`: only consumers with nothing pending are deleted (DELCONSUMER drops pending entries).

Replies are bytes (`decode_responses=False`): an entry that is not UTF-8 must reach the consumer
as data to dead-letter, not break the read that carries it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cogkit.queue.address import FIELD
from cogkit.queue.messages import Entry
from cogkit.queue.settings import QueueSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 10.0  # beyond the blocking read: a Redis that stops answering is a lost connection
MAX_CONNECTIONS = 32
DEAD_MAXLEN = 100_000  # the dead-letter stream is capped (approximately), oldest out first

_FINISH = """
local stored = redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5])
if #ARGV > 6 then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', unpack(ARGV, 8))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[3])
if stored then redis.call('PUBLISH', ARGV[6], ARGV[3]) end
return stored and 1 or 0
"""

_TOUCH = """
local kept = {}
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept[#kept + 1] = ARGV[i]
  end
end
return kept
"""

_HAND_BACK = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2]) > 0 then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'RETRYCOUNT', ARGV[5], 'JUSTID')
end
redis.call('HDEL', KEYS[2], ARGV[6])
return 1
"""

_FORGET = """
local gone = 0
for _, row in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if info['name'] ~= ARGV[3] and tonumber(info['pending']) == 0
      and tonumber(info['idle']) >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    gone = gone + 1
  end
end
return gone
"""


def connect(redis_url: str, *, command_timeout: float = COMMAND_TIMEOUT) -> Redis:
    """An asyncio client with a bounded pool and no hidden retries (callers own the backoff)."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=MAX_CONNECTIONS,
        timeout=COMMAND_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=command_timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )
    return Redis(connection_pool=pool)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class QueueStore:
    """One consumer's view of the queue: its name, the key names and the commands it may send."""

    def __init__(self, settings: QueueSettings, consumer: str) -> None:
        self.settings = settings
        self.address = settings.address
        self.consumer = consumer
        self.client = connect(self.address.redis_url, command_timeout=settings.read_block + COMMAND_TIMEOUT)
        self._finish = self.client.register_script(_FINISH)
        self._touch = self.client.register_script(_TOUCH)
        self._hand_back = self.client.register_script(_HAND_BACK)
        self._forget = self.client.register_script(_FORGET)
        self._ttl_ms = str(int(settings.result_ttl * 1000))
        self._claim_idle_ms = int(settings.claim_idle * 1000)

    async def prepare(self, schema: dict[str, Any] | None) -> None:
        """Create the group (from the stream's start, so earlier messages count) and publish the schema."""
        await create_group(self.client, self.address.stream, self.address.group)
        if schema is not None:
            await self.client.set(self.address.schema_key, json.dumps(schema))

    async def read(self, count: int) -> list[Entry]:
        """Up to `count` new entries, waiting at most the read block for the first."""
        reply = await self.client.xreadgroup(
            self.address.group,
            self.consumer,
            {self.address.stream: ">"},
            count=count,
            block=int(self.settings.read_block * 1000),
        )
        return [Entry(text(eid), fields) for _stream, entries in reply or () for eid, fields in entries]

    async def abandoned(self, count: int) -> dict[str, int]:
        """Up to `count` entries whose holders stopped renewing them (died, or were cut off from
        Redis), oldest first: entry id → the deliveries it would have once claimed."""
        rows = await self.client.xpending_range(
            self.address.stream, self.address.group, min="-", max="+", count=count, idle=self._claim_idle_ms
        )
        return {text(row["message_id"]): int(row["times_delivered"]) + 1 for row in rows}

    async def claim(self, deliveries: dict[str, int]) -> list[Entry]:
        """Take over these abandoned entries; XCLAIM re-checks the idle time, so of two replicas
        racing for one entry, only one gets it."""
        if not deliveries:
            return []
        claimed = await self.client.xclaim(
            self.address.stream, self.address.group, self.consumer, self._claim_idle_ms, list(deliveries)
        )
        return [Entry(text(eid), fields, deliveries[text(eid)]) for eid, fields in claimed if eid is not None]

    async def touch(self, entry_ids: list[str]) -> set[str]:
        """Renew (reset the idle time of) the entries this consumer still owns; returns those."""
        if not entry_ids:
            return set()
        kept = await self._touch(
            keys=[self.address.stream], args=[self.address.group, self.consumer, *entry_ids]
        )
        return {text(eid) for eid in kept}

    async def hand_back(self, entry: Entry, prediction_id: str | None) -> None:
        """Make an entry this consumer will not run claimable at once, its delivery uncounted."""
        await self._hand_back(
            keys=[self.address.stream, self.address.running],
            args=[
                self.address.group,
                self.consumer,
                entry.entry_id,
                self._claim_idle_ms * 2,  # past the claim idle: any replica takes it at its next look
                max(0, entry.deliveries - 1),
                prediction_id or "",
            ],
        )

    async def before_run(self, prediction_id: str) -> tuple[bool, bool]:
        """(a result exists, a cancel was requested), and mark the id as running, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(self.address.result_key(prediction_id))
        pipe.exists(self.address.cancel_key(prediction_id))
        pipe.hset(self.address.running, prediction_id, self.consumer)
        has_result, canceled, _ = await pipe.execute()
        return bool(has_result), bool(canceled)

    async def finish(
        self, entry: Entry, prediction_id: str, body: bytes, *, dead_reason: str | None = None
    ) -> bool:
        """Store the result (unless one exists) and acknowledge; True when this call stored it."""
        a = self.address
        args: list[Any] = [a.group, entry.entry_id, prediction_id, body, self._ttl_ms, a.done_channel]
        if dead_reason is not None:
            args += [DEAD_MAXLEN, "error", dead_reason, "entry", entry.entry_id]
            args += ["deliveries", entry.deliveries, "consumer", self.consumer]
            if entry.value is not None:
                args += [FIELD, entry.value]
        stored = await self._finish(
            keys=[a.stream, a.result_key(prediction_id), a.running, a.dead], args=args
        )
        return bool(stored)

    async def ack(self, entry: Entry, prediction_id: str) -> None:
        """Acknowledge without storing: the id already has its result."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.address.stream, self.address.group, entry.entry_id)
        pipe.hdel(self.address.running, prediction_id)
        await pipe.execute()

    async def cancels_requested(self, prediction_ids: list[str]) -> set[str]:
        """Which of these ids have a cancel key (re-checked after the cancel channel reconnects)."""
        if not prediction_ids:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for pid in prediction_ids:
            pipe.exists(self.address.cancel_key(pid))
        flags = await pipe.execute()
        return {pid for pid, flag in zip(prediction_ids, flags, strict=True) if flag}

    async def group_info(self) -> tuple[int | None, int]:
        """(lag, pending) of this group: entries not yet delivered, and delivered but unacknowledged."""
        for group in await self.client.xinfo_groups(self.address.stream):
            if text(group["name"]) == self.address.group:
                lag = group.get("lag")
                return (None if lag is None else int(lag)), int(group["pending"])
        return None, 0

    async def forget_dead_consumers(self, idle: float) -> int:
        """Delete consumers that hold nothing and have not been seen for `idle` seconds."""
        gone = await self._forget(
            keys=[self.address.stream], args=[self.address.group, int(idle * 1000), self.consumer]
        )
        return int(gone)

    def pubsub(self) -> PubSub:
        return self.client.pubsub(ignore_subscribe_messages=True)

    async def close(self) -> None:
        await self.client.aclose()


async def create_group(client: Redis, stream: str, group: str) -> None:
    """XGROUP CREATE … 0 MKSTREAM, tolerating an existing group."""
    from redis.exceptions import ResponseError

    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise
