"""Which partition owns a brand: the one Kafka's Java client would pick for the key.

Every brand is owned by one partition of the events topic, so all of its events meet in
one worker and its KPIs are never split. The SDK sends each brand to its owner directly;
the KPI agent forwards an event that arrived elsewhere (an unkeyed message, or a client
whose partitioner differs) to its owner once.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def brand_partition(brand: str, partitions: int) -> int:
    """Partition owning ``brand``: murmur2 of its UTF-8 bytes, as Kafka's default partitioner."""
    return (murmur2(brand.encode("utf-8")) & 0x7FFFFFFF) % partitions
