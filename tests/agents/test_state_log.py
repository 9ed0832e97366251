"""The state log's read-back and snapshot schedule, without a broker: where a restore
starts reading, how much it reads, and when the next snapshot is due."""

from __future__ import annotations

import asyncio
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from socialpulse.agents.persisted import (
    LogTail,
    _kind_and_epoch,
    batch_record,
    fence_record,
    replay,
    snapshot_record,
    snapshot_record_of,
)
from socialpulse.agents.state_log import FIRST_WINDOW, read_from_snapshot
from socialpulse.streams import codec


def log_with(snapshots: list[int], length: int) -> list[bytes]:
    """``length`` batch records, with a fence and a snapshot of its epoch at each index of
    ``snapshots`` (positions in the finished log)."""
    out: list[bytes] = []
    epoch = "first"
    for n in range(length):
        if len(out) in snapshots:
            epoch = f"e{len(out)}"
            out += [fence_record(epoch), snapshot_record(epoch, n, {"k": n})]
        out.append(batch_record(epoch, n + 1, {f"k{n}": n}))
    return out


def read_back(log: list[bytes], fence: int) -> tuple[list[bytes], list[int]]:
    """The records ``read_from_snapshot`` returns, and every offset it read."""
    offsets: list[int] = []

    async def read(low: int, high: int) -> list[tuple[int, bytes]]:
        assert 0 <= low <= high <= fence
        offsets.extend(range(low, high))
        return [(o, log[o]) for o in range(low, high)]

    return asyncio.run(read_from_snapshot(read, fence)), offsets


@given(st.lists(st.integers(0, 900), max_size=4), st.integers(1, 900))
def test_the_read_back_starts_at_the_last_snapshot_and_reads_no_record_twice(
    at: list[int], length: int
) -> None:
    log = log_with(at, length)
    fence = len(log)
    got, offsets = read_back(log, fence)
    starts = [
        i
        for i in range(len(log) - 1)
        if replay([log[i]]).snapshots == 0
        and replay([log[i + 1]]).snapshots == 1
        and log[i].startswith(b'{"v":1,"t":"fence"')
    ]
    start = starts[-1] if starts else 0
    assert got == log[start:]
    assert sorted(offsets) == sorted(set(offsets))  # no record read twice
    # windows double: what is read is at most about twice the distance to the start
    assert len(offsets) <= max(FIRST_WINDOW, 2 * (fence - start))


def test_a_snapshot_without_its_own_fence_before_it_is_not_a_start() -> None:
    log = log_with([3], 10)
    # a batch record of another writer lands between the fence and the snapshot
    log.insert(4, batch_record("zombie", 3, {"z": 1}))
    got, _ = read_back(log, len(log))
    assert got == log  # read from the start


def test_a_snapshot_is_due_after_so_many_records_or_so_many_bytes() -> None:
    tail = LogTail(every=5, min_bytes=1_000)
    for _ in range(4):
        tail.wrote(0, 10)
    assert not tail.due(0)
    tail.wrote(0, 10)
    assert tail.due(0)  # 5 records
    tail.snapshotted(0, 3_000)
    assert not tail.due(0)
    tail.wrote(0, 2_000)
    assert not tail.due(0)  # above min_bytes, below the last snapshot's 3,000
    tail.wrote(0, 1_000)
    assert tail.due(0)
    tail.snapshotted(0, 10)
    tail.wrote(0, 999)
    assert not tail.due(0)  # a small snapshot: min_bytes still holds
    tail.wrote(0, 1)
    assert tail.due(0)
    assert not tail.due(1)  # another partition: nothing written


def test_one_snapshot_a_batch_goes_to_the_partition_most_due() -> None:
    """Partitions written in step reach the rule together: the one furthest past it is
    snapshotted, then the next one, a batch each; none is chosen before it is due."""
    tail = LogTail(every=4, min_bytes=1_000)
    for _ in range(3):
        for partition, size in ((0, 10), (1, 10), (2, 310)):
            tail.wrote(partition, size)
    assert tail.most_due([0, 1, 2]) is None  # 3 records of 4; partition 2: 930 bytes
    for partition, size in ((0, 10), (1, 10), (2, 100)):
        tail.wrote(partition, size)  # 4 records each; partition 2 also past 1,000 bytes
    assert [tail.fill(p) >= 1 for p in (0, 1, 2)] == [True, True, True]
    assert tail.most_due([0, 1, 2]) == 2  # 1.03 of its bytes against 1.0 of the records
    tail.snapshotted(2, 100)
    assert tail.most_due([0, 1, 2]) in (0, 1)
    assert tail.most_due([2]) is None
    assert tail.most_due([]) is None
    tail.wrote(1, 10)
    assert tail.most_due([0, 1, 2]) == 1  # 5 records against 4


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=6,
        ),
        max_size=12,
    ),
    st.lists(st.integers(0, 12), max_size=5),
    st.one_of(st.none(), st.integers(0, 10**12)),
)
def test_a_snapshot_encoded_in_parts_is_the_snapshot_of_the_whole_map(
    data: dict[str, object], cuts: list[int], next_offset: int | None
) -> None:
    """The worker encodes a snapshot a brand at a time: the record is byte for byte the
    one of the merged map, whatever the parts (empty ones too)."""
    items = list(data.items())
    bounds = [0, *sorted(min(c, len(items)) for c in cuts), len(items)]
    parts = [codec.dumps(dict(items[a:b])) for a, b in pairwise(bounds)]
    record = snapshot_record_of("e1", next_offset, parts)
    assert record == snapshot_record("e1", next_offset, data)
    assert replay([record]).data == data


def test_a_restored_tail_is_what_follows_the_last_snapshot() -> None:
    log = log_with([2], 6)
    replayed = replay(log)
    tail = LogTail(every=100, min_bytes=1)
    tail.restored(0, replayed)
    after = log[4:]  # two batch records, the fence, the snapshot, then four
    assert replayed.batches == len(after) == 4
    assert tail.bytes[0] == sum(len(raw) for raw in after)
    assert tail.snapshot_bytes[0] == len(log[3])


@given(st.text(max_size=12), st.integers(0, 10**12) | st.none())
def test_a_records_head_gives_its_kind_and_epoch_as_its_whole_does(
    epoch: str, offset: int | None
) -> None:
    for raw in (
        fence_record(epoch),
        batch_record(epoch, offset or 0, {"k": [1, "x"]}),
        snapshot_record(epoch, offset, {"w": {"wm": 1.5}}),
    ):
        assert _kind_and_epoch(raw) == _kind_and_epoch(raw, whole=True) is not None


def test_a_snapshot_cut_short_is_not_a_start() -> None:
    log = log_with([2, 6], 8)
    whole = snapshot_record("e6", 4, {"k": 4, "pad": "x" * 200})  # the second snapshot
    log[7] = whole[:-20]  # cut short: its head is whole, the rest does not decode
    got, _ = read_back(log, len(log))
    assert got == log[2:]  # from the first snapshot's fence


def test_a_snapshot_found_by_the_read_back_is_decoded_once(monkeypatch) -> None:
    """``read_from_snapshot`` reads the snapshot through to know it is whole JSON, without
    building it: only ``replay`` decodes it (a decode was the longest part of a restore)."""
    from socialpulse.agents import persisted

    log = log_with([3], 8)
    decoded: list[bytes] = []
    loads = persisted.codec.loads

    def counting(raw: bytes):  # type: ignore[no-untyped-def]
        decoded.append(raw)
        return loads(raw)

    monkeypatch.setattr(persisted.codec, "loads", counting)
    got, _offsets = read_back(log, len(log))
    snapshot = next(raw for raw in got if raw.startswith(b'{"v":1,"t":"snapshot"'))
    replayed = replay(got)
    assert sum(raw is snapshot for raw in decoded) == 1
    assert replayed.snapshots == 1
    assert replayed.data["k"] == 3


def test_a_snapshot_that_is_not_whole_json_is_not_where_a_read_back_starts() -> None:
    log = log_with([2, 6], 9)
    cut = next(i for i, raw in enumerate(log) if raw.startswith(b'{"v":1,"t":"snapshot","e":"e6"'))
    log[cut] = log[cut][:-3]  # the later snapshot cut short: read from the earlier one
    got, _offsets = read_back(log, len(log))
    assert got[1].startswith(b'{"v":1,"t":"snapshot","e":"e2"')
