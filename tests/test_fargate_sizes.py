"""Fargate's task size table, row by row, written out here from AWS's documentation (not from the module)."""

from __future__ import annotations

import re

import pytest

from airflow_ecs.core.fargate_sizes import FARGATE_SIZES, describe_invalid, is_valid, nearest_sizes, valid_memory

# CPU units -> every memory size (MiB) Fargate accepts with it.
TABLE: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
VALID = [(cpu, memory) for cpu, sizes in TABLE.items() for memory in sizes]

# Per row: just below the lowest, off-step, just above the highest.
INVALID = [
    (256, 256),
    (256, 1536),
    (256, 3072),
    (256, 4096),
    (512, 512),
    (512, 1536),
    (512, 5120),
    (1024, 1024),
    (1024, 2560),
    (1024, 9216),
    (2048, 3072),
    (2048, 4608),
    (2048, 17408),
    (4096, 7168),
    (4096, 8704),
    (4096, 31744),
    (8192, 12288),
    (8192, 17408),
    (8192, 20480 + 1024),
    (8192, 65536),
    (16384, 24576),
    (16384, 36864),
    (16384, 131072),
    # CPU sizes Fargate does not have.
    (128, 512),
    (300, 1024),
    (3072, 8192),
    (32768, 131072),
]


def test_the_module_has_exactly_the_documented_rows():
    assert sorted(FARGATE_SIZES) == sorted(TABLE)
    for cpu, sizes in TABLE.items():
        assert valid_memory(cpu) == sizes


@pytest.mark.parametrize(("cpu", "memory"), VALID)
def test_every_documented_size_is_valid(cpu, memory):
    assert is_valid(cpu, memory)


@pytest.mark.parametrize(("cpu", "memory"), INVALID)
def test_off_table_sizes_are_invalid(cpu, memory):
    assert not is_valid(cpu, memory)


@pytest.mark.parametrize(("cpu", "memory"), INVALID)
def test_the_message_names_the_asked_size_and_valid_neighbours(cpu, memory):
    message = describe_invalid(cpu, memory)
    assert f"cpu={cpu}" in message
    suggested = [(int(c), int(m)) for c, m in re.findall(r"cpu=(\d+) memory=(\d+)", message.split("nearest")[1])]
    assert len(suggested) == 3
    assert all(is_valid(c, m) for c, m in suggested)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("cpu", "memory", "says"),
    [
        (256, 1536, "512, 1024 or 2048"),
        (1024, 2500, "2048-8192 in steps of 1024"),
        (8192, 20000, "16384-61440 in steps of 4096"),
        (16384, 40000, "32768-122880 in steps of 8192"),
        (300, 1024, "valid: 256, 512, 1024, 2048, 4096, 8192, 16384"),
    ],
)
def test_the_message_states_the_rule(cpu, memory, says):
    assert says in describe_invalid(cpu, memory)


@pytest.mark.parametrize(
    ("cpu", "memory", "first"),
    [
        (1024, 2500, (1024, 2048)),
        (1024, 3000, (1024, 3072)),
        (256, 1536, (256, 1024)),
        (8192, 20000, (8192, 20480)),
        (2048, 17000, (2048, 16384)),
        (300, 1024, (256, 1024)),
    ],
)
def test_the_nearest_size_comes_first(cpu, memory, first):
    assert nearest_sizes(cpu, memory)[0] == first


@pytest.mark.parametrize(("cpu", "memory"), VALID[::7])
def test_a_valid_size_is_its_own_nearest(cpu, memory):
    assert nearest_sizes(cpu, memory, count=1) == [(cpu, memory)]


def test_unknown_cpu_has_no_memory_sizes():
    assert valid_memory(300) == []
