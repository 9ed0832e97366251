"""The producer SDK keeps a brand's events in order on the wire, even when the Kafka
client's send() has to wait for room while the linger task and send() both hand over
envelopes of the same brand."""

from __future__ import annotations

import asyncio
from typing import Any

from socialpulse.streams import codec
from socialpulse.streams.producer import EventProducer


class SlowClient:
    """An aiokafka producer whose first send() waits (a full accumulator)."""

    def __init__(self) -> None:
        self.room = asyncio.Event()
        self.values: list[bytes] = []
        self.calls = 0

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[Any]:
        self.calls += 1
        if self.calls == 1:
            await self.room.wait()
        self.values.append(value)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_envelopes_of_a_brand_reach_the_client_in_order() -> None:
    async def run() -> list[list[int]]:
        producer = EventProducer("unused:9092", max_events=3, linger=0.01)
        client = SlowClient()
        producer._producer = client  # type: ignore[assignment]
        await producer.send({"id": "0", "ts": 1.7e9, "brand": "acme", "kind": "like"})
        await asyncio.sleep(0.05)  # the linger task hands [0] over and waits for room
        sending = asyncio.ensure_future(
            producer.send_many(
                {"id": str(i), "ts": 1.7e9 + i, "brand": "acme", "kind": "like"}
                for i in range(1, 4)
            )  # [1, 2, 3] is full: handed over at once
        )
        await asyncio.sleep(0.05)
        client.room.set()
        await sending
        await producer.flush()
        return [[int(ev["id"]) for ev in codec.loads(v)] for v in client.values]

    assert asyncio.run(run()) == [[0], [1, 2, 3]]
