"""``brand_partition`` must pick the partition Kafka's Java client picks for the brand key."""

from __future__ import annotations

from collections import Counter

import pytest
from aiokafka.partitioner import DefaultPartitioner

from socialpulse.streams.partitioning import brand_partition

# Apache Kafka's UtilsTest.testMurmur2: the Java client's (signed 32-bit) murmur2 results
KAFKA_MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}

# computed once with the Java-compatible murmur2 (Utils.toPositive(murmur2(key)) % n)
EXPECTED = {
    # brand: partitions for n = 1, 2, 3, 4, 6, 8, 12, 16, 64
    "acme": [0, 0, 0, 0, 0, 4, 0, 4, 4],
    "globex": [0, 1, 1, 3, 1, 7, 7, 15, 63],
    "initech": [0, 0, 0, 2, 0, 2, 6, 2, 50],
    "café": [0, 0, 0, 2, 0, 2, 6, 2, 50],
    "🚀rocket": [0, 1, 1, 3, 1, 7, 7, 15, 47],
    "a" * 200: [0, 0, 0, 0, 0, 0, 0, 0, 16],
}
COUNTS = [1, 2, 3, 4, 6, 8, 12, 16, 64]

BRANDS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "café",
    "Ünïcødé",
    "東京",
    "🚀rocket",
    "a",
    "ab",
    "abc",
    "abcd",
    "abcde",
    "b" * 128,
    *(f"brand-{i}" for i in range(35)),
]


def java_murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 with Java's wrapping signed 32-bit arithmetic."""

    def i32(x: int) -> int:
        x &= 0xFFFFFFFF
        return x - (1 << 32) if x & 0x80000000 else x

    def ushr(x: int, n: int) -> int:  # Java's >>>
        return (x & 0xFFFFFFFF) >> n

    m, r = 0x5BD1E995, 24
    length = len(data)
    h = i32(0x9747B28C ^ length)
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little", signed=True)
        k = i32(k * m)
        k ^= ushr(k, r)
        k = i32(k * m)
        h = i32(h * m)
        h = i32(h ^ k)
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h = i32(h ^ (data[tail + 2] << 16))
    if rest >= 2:
        h = i32(h ^ (data[tail + 1] << 8))
    if rest >= 1:
        h = i32(h ^ data[tail])
        h = i32(h * m)
    h = i32(h ^ ushr(h, 13))
    h = i32(h * m)
    h = i32(h ^ ushr(h, 15))
    return h


def java_partition(key: bytes, partitions: int) -> int:
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions  # Utils.toPositive


@pytest.mark.parametrize(("key", "expected"), KAFKA_MURMUR2_VECTORS.items())
def test_reference_murmur2_matches_kafka(key: bytes, expected: int) -> None:
    assert java_murmur2(key) == expected


@pytest.mark.parametrize(("key", "hashed"), KAFKA_MURMUR2_VECTORS.items())
@pytest.mark.parametrize("partitions", COUNTS)
def test_brand_partition_matches_kafka_vectors(key: bytes, hashed: int, partitions: int) -> None:
    assert brand_partition(key.decode(), partitions) == (hashed & 0x7FFFFFFF) % partitions


@pytest.mark.parametrize(("brand", "expected"), EXPECTED.items())
def test_brand_partition_is_stable(brand: str, expected: list[int]) -> None:
    assert [brand_partition(brand, n) for n in COUNTS] == expected


@pytest.mark.parametrize("brand", BRANDS)
def test_brand_partition_matches_java_and_aiokafka(brand: str) -> None:
    assert len(BRANDS) == 50
    key = brand.encode("utf-8")
    for n in COUNTS:
        all_partitions = list(range(n))
        assert brand_partition(brand, n) == java_partition(key, n)
        assert brand_partition(brand, n) == DefaultPartitioner()(
            key, all_partitions, all_partitions
        )


def test_brand_partition_in_range() -> None:
    for n in range(1, 65):
        for i in range(200):
            assert 0 <= brand_partition(f"brand-{i}-{n}", n) < n


def test_single_partition_owns_everything() -> None:
    assert {brand_partition(b, 1) for b in BRANDS} == {0}


def test_brand_partition_spreads_brands() -> None:
    counts = Counter(brand_partition(f"brand-{i}", 4) for i in range(1000))
    assert set(counts) == {0, 1, 2, 3}
    for partition, n in counts.items():
        assert 150 <= n <= 350, (partition, n)


def test_brand_partition_is_case_and_encoding_sensitive() -> None:
    # the key is the brand's exact UTF-8 bytes: no normalisation of any kind
    assert brand_partition("acme", 64) == 4
    assert brand_partition("Acme", 64) == java_partition(b"Acme", 64)
    assert brand_partition("café", 64) == java_partition("café".encode(), 64)
    assert brand_partition("cafe\u0301", 64) == java_partition("cafe\u0301".encode(), 64)
