"""Declaring the topics socialpulse reads and writes, with the configured partitions."""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create each topic (name -> partitions) that does not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in topics.items() if name not in existing]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(missing)
        log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        await admin.close()


async def topic_partition_count(bootstrap: str, topic: str) -> int | None:
    """Number of partitions of ``topic``, or None when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        meta = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in meta:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return len(entry.get("partitions", [])) or None
    return None
