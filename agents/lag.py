"""Consumer lag of the events topic, read from the events reader at scrape time.

Lag is the Kafka definition: the partition's high watermark (the offset the next message
will get) minus the position the worker has counted up to, per partition it is assigned. Tansu
0.6 under-reports the high watermark after multi-record batches (see docs/deployment.md), so on
the embedded broker the lag reads low by up to one producer batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("socialpulse")

NAME = "socialpulse_consumer_lag"
HELP = "Messages of the events topic not yet processed: high watermark minus committed offset."
LABELS = ["topic", "partition"]


def partition_lags(
    assigned: Iterable[Any],
    highwater: Callable[[Any], int | None],
    committed: Mapping[Any, int | None],
    topic: str,
) -> dict[int, int]:
    """Per assigned partition of ``topic``, high watermark minus the committed position.

    ``committed[tp]`` is the offset of the last message committed (Faust's bookkeeping), so
    the next position is one past it; a partition with no commit yet counts from 0. A
    partition whose high watermark is not known yet (no fetch so far) is left out.
    """
    lags: dict[int, int] = {}
    for tp in assigned:
        if tp.topic != topic:
            continue
        end = highwater(tp)
        if end is None:
            continue
        last = committed.get(tp)
        position = 0 if last is None else last + 1
        lags[int(tp.partition)] = max(0, int(end) - position)
    return lags


class ConsumerLagCollector(Collector):
    """``socialpulse_consumer_lag{topic,partition}`` for the worker's assigned partitions."""

    def __init__(self, consumer: Callable[[], Any | None], topic: str) -> None:
        """``consumer()`` gives what reads the events topic (``assignment()``,
        ``highwater(tp)``, ``_committed_offset``), or None before there is one."""
        self.consumer = consumer
        self.topic = topic

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(NAME, HELP, labels=LABELS)]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(NAME, HELP, labels=LABELS)
        consumer = self.consumer()
        if consumer is not None:
            try:
                lags = partition_lags(
                    consumer.assignment(),
                    consumer.highwater,
                    getattr(consumer, "_committed_offset", {}),
                    self.topic,
                )
            except Exception as exc:  # not started, or mid-rebalance: no lag this scrape
                log.debug("consumer lag unavailable: %s", exc)
                lags = {}
            for partition in sorted(lags):
                family.add_metric([self.topic, str(partition)], float(lags[partition]))
        yield family
