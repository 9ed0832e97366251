"""A brand's watermark over the partitions that carry it, with idleness (state.Sources)."""

from __future__ import annotations

import asyncio

from socialpulse.agents.counters import C
from socialpulse.agents.state import KpiState, Sources
from socialpulse.streams.partitioning import brand_partition
from socialpulse.streams.validation import Event

T0 = 1_700_000_000.0


def test_the_floor_is_the_slowest_partition_heard_from_recently() -> None:
    s = Sources()
    assert s.floor(0.0, 30.0) is None
    s.see(0, T0 + 100, now=0.0)
    assert s.floor(0.0, 30.0) == T0 + 100  # one partition: its latest event time
    s.see(1, T0 + 40, now=10.0)
    s.see(0, T0 + 160, now=10.0)
    assert s.floor(10.0, 30.0) == T0 + 40
    s.see(1, T0 + 20, now=11.0)  # an older event does not move a partition back
    assert s.floor(11.0, 30.0) == T0 + 40
    s.see(0, T0 + 200, now=35.0)
    assert s.floor(35.0, 30.0) == T0 + 40  # partition 1 quiet for 24 s: still waited for
    assert s.floor(45.0, 30.0) == T0 + 200  # quiet for 34 s: left out, and forgotten
    assert set(s.progress) == {0}
    s.expect(2, T0 + 150, now=50.0)  # forwarded from partition 2, not read back yet
    assert s.floor(50.0, 30.0) == T0 + 150
    s.expect(2, T0 + 10, now=51.0)  # a later expectation never moves a partition back
    assert s.progress[2] == T0 + 150
    assert Sources.from_json(s.to_json(), now=60.0).progress == s.progress


def event(i: int, ts: float) -> Event:
    return {"id": f"e{i}", "ts": ts, "brand": "acme", "platform": "x", "kind": "like",
            "count": 1, "value": 0.0}  # type: ignore[typeddict-item]  # fmt: skip


def test_a_partition_far_behind_is_counted_and_a_quiet_one_lets_the_watermark_go() -> None:
    now = [0.0]
    state = KpiState(allowed_lateness=600.0, source_idle=30.0, clock=lambda: now[0])
    ahead = [event(i, T0 + 60 * i) for i in range(60)]  # an hour from partition 0
    behind = [event(100 + i, T0 + 60 * i + 1) for i in range(60)]  # the same from 1
    # partition 1's events were forwarded and are on their way: the watermark waits
    state.expect("acme", 1, behind[0]["ts"])
    state.apply(ahead, state.floors(ahead, [0] * len(ahead)))
    assert state.brands["acme"].watermark == behind[0]["ts"]
    result = state.apply(behind, state.floors(behind, [1] * len(behind)))
    assert not result.late  # an hour behind partition 0, and counted
    bs = state.brands["acme"]
    assert bs.watermark == ahead[-1]["ts"]  # both partitions past it: the slower one's
    assert bs.totals["24h"][("all", "all")][C.likes] == 120  # every event counted
    # partition 1 goes on alone; partition 0 falls quiet
    more = [event(200 + i, T0 + 3600 + 60 * i) for i in range(5)]
    now[0] = 10.0
    state.apply(more, state.floors(more, [1] * len(more)))
    late = [event(300, T0 + 3500)]
    now[0] = 20.0
    state.apply(late, state.floors(late, [0] * len(late)))  # 0 speaks again, behind
    assert state.brands["acme"].watermark == ahead[-1]["ts"]
    assert not state.refloor(now=45.0).brands  # partition 0 heard 25 s ago: waited for
    moved = state.refloor(now=51.0)
    assert moved.brands == {"acme"}
    assert state.brands["acme"].watermark == more[-1]["ts"]
    # the watermark and the partitions survive a restore
    restored = KpiState(allowed_lateness=600.0, source_idle=30.0, clock=lambda: 60.0)
    restored.restore({"acme": state.brand_record("acme")}, [], [])
    assert restored.brands["acme"].sources.progress == state.brands["acme"].sources.progress


def test_partitions_not_read_yet_hold_the_brands_counted_meanwhile() -> None:
    """The first fetch of a backfill may bring one partition alone: the brands it counts
    wait for the other assigned partitions until they are read, read to their end, or
    quiet for ``source_idle``; without that wait the others' events would be late."""

    def run(hold: bool) -> tuple[KpiState, list[Event]]:
        now = [0.0]
        state = KpiState(allowed_lateness=600.0, source_idle=30.0, clock=lambda: now[0])
        if hold:
            for partition in (0, 1, 2):
                state.hold(partition)
        first = [event(i, T0 + 60 * i) for i in range(40)]  # 40 minutes from partition 0
        state.apply(first, state.floors(first, [0] * len(first)))
        now[0] = 1.0
        other = [event(100 + i, T0 + 60 * i + 1) for i in range(40)]  # the same from 1
        return state, state.apply(other, state.floors(other, [1] * len(other))).late

    assert len(run(hold=False)[1]) > 20  # what a backfill lost before the wait
    state, late = run(hold=True)
    assert not late
    bs = state.brands["acme"]
    # partition 2, assigned and never read, still holds it: at the allowed lateness
    # before the first event, as it may bring events older than those read so far
    assert bs.watermark == T0 - 600
    assert 2 in bs.sources.awaited and [2, T0 - 600] not in bs.sources.to_json()  # a guess
    state.unhold([2])  # read to its end
    assert state.refloor(now=2.0).brands == {"acme"}
    assert bs.watermark == T0 + 60 * 39 and bs.sources.progress.keys() == {0, 1}
    assert not state.pending


def test_a_hold_ends_after_the_idle_time_from_the_first_traffic() -> None:
    """The idle time of a partition not read yet runs from the first events the worker
    reads after the hold, not from the assignment: a worker that waited for a producer
    longer than ``source_idle`` still holds its silent partitions when traffic starts."""
    now = [0.0]
    state = KpiState(allowed_lateness=600.0, source_idle=30.0, clock=lambda: now[0])
    state.hold(1)
    now[0] = 100.0  # no traffic for 100 s: still held
    assert not state.refloor().brands and state.pending == {1: None}
    evs = [event(i, T0 + 60 * i) for i in range(5)]
    state.apply(evs, state.floors(evs, [0] * len(evs)))
    assert state.brands["acme"].watermark == T0 - 600
    now[0] = 129.0
    assert not state.refloor().brands  # quiet 29 s since the first traffic
    now[0] = 131.0
    assert state.refloor().brands == {"acme"}
    assert state.brands["acme"].watermark == T0 + 240 and not state.pending


def test_a_worker_that_reads_one_partition_first_counts_the_others_too() -> None:
    """Through the harness: a backfill sent round robin, read one message a batch (the
    harness drains partition 0 before 1): without the hold, the other partitions' events
    come in far behind partition 0's and are late; with it, none is."""
    from socialpulse.agents.testing import Harness

    events = [
        {"id": f"h{i}", "ts": T0 + 6 * i, "brand": "acme", "kind": "like", "platform": "x"}
        for i in range(200)  # 20 minutes
    ]

    def late(hold: bool) -> int:
        h = Harness(4, allowed_lateness=120.0, hold_unread=hold)
        h.produce_events(events, envelope=10, keyed=False)
        worker = h.start_worker(range(4))
        asyncio.run(h.drain(worker, 1))
        return sum(1 for d in h.dead_letters if d.rejection.reason == "late")

    assert late(hold=False) > 50
    assert late(hold=True) == 0


def test_a_slow_worker_waits_for_the_forwards_in_its_backlog() -> None:
    """A backfill read by a slow worker (10 s of wall clock a batch; partitions left out
    after 30 s quiet): the brand's first 20 minutes came to another partition, its last
    40 to its own. The first are forwarded to the brand's partition and wait there behind
    its own backlog, far ahead in event time, while their partition, read to its end,
    goes quiet. Leaving it out of the watermark made them late; while the worker has a
    backlog a quiet partition is waited for up to the allowed lateness."""
    from socialpulse.agents.testing import Harness
    from socialpulse.streams import codec
    from socialpulse.streams.partitioning import brand_partition

    events = [
        {"id": f"s{i}", "ts": T0 + 3 * i, "brand": "acme", "kind": "like", "platform": "x"}
        for i in range(1200)  # an hour
    ]
    own = brand_partition("acme", 4)
    other = (own + 1) % 4

    def late(backlog: bool) -> int:
        now = [0.0]
        h = Harness(4, allowed_lateness=600.0, clock=lambda: now[0])
        for i in range(0, len(events), 10):
            h.produce(codec.dumps(events[i : i + 10]), other if i < 400 else own)
        worker = h.start_worker(range(4))
        if not backlog:  # the worker as it was: quiet after source_idle, backlog or not
            worker.core.state.idle = lambda: 30.0  # type: ignore[method-assign]
        while h.pending(worker):
            asyncio.run(h.step(worker, 4))
            now[0] += 10.0
        h.settle(worker)
        late = sum(1 for d in h.dead_letters if d.rejection.reason == "late")
        totals = worker.core.state.brands["acme"].totals["24h"][("all", "all")]
        assert totals[C.likes] + late == len(events)  # every event counted or late
        return late

    before, after = late(backlog=False), late(backlog=True)
    print(f"\nlate without the backlog rule: {before}; with it: {after}")
    assert before > 100
    assert after == 0


def test_a_tick_between_batches_waits_for_forwards_not_fetched_yet() -> None:
    """A batch forwards a partition's events to the brand's own partition, which it reads
    in the same batch far ahead in event time; a wall-clock tick comes before the next
    fetch, a minute later. The forwards are a backlog of the worker's own partition from
    the moment it sends them: the tick does not leave their partition out as quiet."""
    from socialpulse.agents.testing import Harness
    from socialpulse.streams import codec
    from socialpulse.streams.partitioning import brand_partition

    events = [
        {"id": f"t{i}", "ts": T0 + 3 * i, "brand": "acme", "kind": "like", "platform": "x"}
        for i in range(1200)  # an hour: the first 20 minutes on another partition
    ]
    own = brand_partition("acme", 4)

    def late(backlog: bool) -> int:
        now = [0.0]
        h = Harness(4, allowed_lateness=600.0, clock=lambda: now[0])
        h.produce(codec.dumps(events[:400]), (own + 1) % 4)
        h.produce(codec.dumps(events[400:]), own)
        worker = h.start_worker(range(4))
        if not backlog:  # the worker as it was: quiet after source_idle, backlog or not
            worker.core.state.idle = lambda: 30.0  # type: ignore[method-assign]
        asyncio.run(h.step(worker, 10))  # both messages: the first 400 events forwarded
        now[0] += 60.0
        h.tick(worker)
        asyncio.run(h.step(worker, 10))  # the forwards
        h.settle(worker)
        late = sum(1 for d in h.dead_letters if d.rejection.reason == "late")
        totals = worker.core.state.brands["acme"].totals["24h"][("all", "all")]
        assert totals[C.likes] + late == len(events)
        return late

    assert late(backlog=False) == 400
    assert late(backlog=True) == 0


def test_silent_partitions_hold_a_worker_that_waited_for_traffic() -> None:
    """A worker assigned four empty partitions waits a minute (longer than the idle
    time) for a producer; the producer's first records then reach one partition before
    the three others, as the embedded broker showed for one librdkafka flush (a fetch of
    27 envelopes from partition 0, its first from 15 minutes into the stream, while the
    others, which held its first 15 minutes, were still empty). The empty partitions
    were never read to an end: they hold the brands, at the allowed lateness before the
    first events read, until they bring records (or stay quiet ``source_idle`` after
    the first traffic). Letting them go while empty (what the reader did) made the
    others' older events late."""
    from socialpulse.agents.testing import Harness
    from socialpulse.streams import codec

    brands = ("acme", "globex", "initech")
    events = [
        {"id": f"w{i}", "ts": T0 + 3 * i, "brand": brands[i % 3], "kind": "like", "platform": "x"}
        for i in range(1200)  # an hour, time-ordered
    ]
    chunks = [events[i : i + 100] for i in range(0, len(events), 100)]

    def late(release_empty: bool) -> int:
        now = [0.0]
        h = Harness(4, allowed_lateness=600.0, clock=lambda: now[0], hold_unread=True)
        worker = h.start_worker(range(4))
        if release_empty:  # the reader as it was: an empty partition is "read to its end"
            worker.core.caught_up(range(4))
        asyncio.run(h.step(worker, 10))  # nothing to read yet
        now[0] += 60.0
        h.tick(worker)
        for chunk in chunks[3:]:  # 5 minutes each: partition 0 from the 15th minute on
            h.produce(codec.dumps(chunk), 0)
        asyncio.run(h.step(worker, 100))  # a fetch that brought partition 0 alone
        now[0] += 0.1
        for k, chunk in enumerate(chunks[:3]):  # the first 15 minutes, on the others
            h.produce(codec.dumps(chunk), 1 + k)
        asyncio.run(h.drain(worker, 4))
        lost = sum(1 for d in h.dead_letters if d.rejection.reason == "late")
        counted = sum(
            worker.core.state.brands[b].totals["24h"][("all", "all")][C.likes] for b in brands
        )
        assert counted + lost == len(events)  # every event counted or late
        return lost

    before, after = late(release_empty=True), late(release_empty=False)
    print(f"\nlate when empty partitions were let go: {before}; held: {after}")
    assert before >= 50
    assert after == 0


def test_brands_held_for_partitions_move_on_in_the_batch_that_lets_them_go() -> None:
    """Keyed brands on four partitions; a first fetch brings partition 0 alone, whose
    brand then waits for the three others, not read yet. The next batch reads them and
    lets them go: in that batch the brand of partition 0, which has no event left, moves
    to its last event's time, not at a later tick (the worker ticks every 5 s). So a
    backfill's windows are final once everything is read; a test that took two equal
    scrapes for the end saw that brand's windows an allowed lateness wide."""
    from socialpulse.agents.testing import Harness
    from socialpulse.streams import codec

    brands = {"acme": 0, "hooli": 1, "initech": 2, "globex": 3}  # brand -> its partition
    h = Harness(4, allowed_lateness=600.0, clock=lambda: T0 + 700, hold_unread=True)
    assert all(brand_partition(b, 4) == p for b, p in brands.items())

    def envelopes(brand: str) -> list[bytes]:
        events = [
            {"id": f"{brand}{i}", "ts": T0 + 6 * i, "brand": brand, "kind": "like",
             "platform": "x"}
            for i in range(100)  # 10 minutes
        ]  # fmt: skip
        return [codec.dumps(events[i : i + 10]) for i in range(0, 100, 10)]

    worker = h.start_worker(range(4))
    for value in envelopes("acme"):
        h.produce(value, 0)
    asyncio.run(h.step(worker, 100))  # partition 0 alone: the others are empty yet
    state = worker.core.state
    assert state.brands["acme"].watermark == T0 - 600  # held for 1, 2 and 3
    for brand in ("hooli", "initech", "globex"):
        for value in envelopes(brand):
            h.produce(value, brands[brand])
    asyncio.run(h.drain(worker, 100, settle=False))  # one batch, and no tick
    last = T0 + 6 * 99
    assert {b: state.brands[b].watermark for b in brands} == dict.fromkeys(brands, last)
    assert not state.released


def test_settle_moves_a_brand_whose_hold_ran_out_of_idle_time() -> None:
    """A partition assigned and never read holds the brand counted meanwhile until it has
    been quiet ``source_idle`` seconds after the first traffic; the first ``settle``
    after that lets it go and moves the brand at once (not only the next tick)."""
    now = [0.0]
    state = KpiState(allowed_lateness=600.0, source_idle=30.0, clock=lambda: now[0])
    state.hold(1)
    events = [event(i, T0 + 60 * i) for i in range(5)]
    state.apply(events, state.floors(events, [0] * len(events)))
    assert state.brands["acme"].watermark == T0 - 600  # waits for partition 1
    now[0] = 29.0
    assert not state.settle().brands and state.pending  # not quiet long enough yet
    now[0] = 31.0
    result = state.settle()
    assert result.brands == {"acme"} and not state.pending and not state.released
    assert state.brands["acme"].watermark == T0 + 240
