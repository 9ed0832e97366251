"""Where the worker's consumer reads a partition without a committed offset after a seek.

Faust drops records fetched while a partition is paused (recovery, rebalance) and seeks
to the committed offsets to read them again; aiokafka leaves a partition without a commit
where it is. ``rewind_uncommitted`` sends such a partition back to its beginning.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from socialpulse.agents.fetching import rewind_uncommitted

pytestmark = pytest.mark.integration


async def test_a_partition_without_a_commit_is_read_again_from_its_beginning(
    broker: str,
) -> None:
    topic = f"fetch-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=broker, max_batch_size=1)
    await producer.start()
    try:
        for partition in (0, 1):
            for i in range(5):
                await producer.send_and_wait(
                    topic, f"{partition}-{i}".encode(), partition=partition
                )
    finally:
        await producer.stop()
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker,
        group_id=f"g-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([first, second])
        read = 0
        while read < 10:  # read everything, commit nothing: both positions at the end
            batches = await consumer.getmany(timeout_ms=2000)
            assert batches, "the broker returned nothing"
            read += sum(len(records) for records in batches.values())
        assert await consumer.position(first) == 5

        # what Faust's perform_seek does: aiokafka's seek_to_committed moves neither
        committed = await consumer.seek_to_committed()
        assert committed == {first: None, second: None}
        assert await consumer.position(first) == 5

        rewound = await rewind_uncommitted(consumer, committed, skip_topics={"other"})
        assert sorted(rewound) == [first, second]
        assert await consumer.position(first) == 0
        assert await consumer.position(second) == 0

        # a committed partition keeps its offset; a skipped topic is left alone
        await consumer.commit({first: 3})
        await consumer.seek_to_committed()
        assert await rewind_uncommitted(consumer, {first: 3, second: None}, {topic}) == []
        assert await consumer.position(first) == 3
    finally:
        await consumer.stop()
