"""Every suggestion describe_invalid makes for a refused size, in order (test_fargate_sizes.py pins the first)."""

from __future__ import annotations

import pytest

from airflow_ecs.core.fargate_sizes import describe_invalid, nearest_sizes


# Worked out by hand from the distance |cpu - asked| / asked + |memory - asked| / asked; ties go to the
# smaller pair.
@pytest.mark.parametrize(
    ("cpu", "memory", "nearest"),
    [
        (1024, 2500, [(1024, 2048), (1024, 3072), (1024, 4096)]),  # 0.18, 0.23, 0.64 (then 512/2048 at 0.68)
        (1024, 1000, [(512, 1024), (256, 1024), (1024, 2048)]),  # 0.52, 0.77, 1.05
        (256, 1536, [(256, 1024), (256, 2048), (256, 512)]),  # 0.33, 0.33 (tie: smaller first), 0.67
        (8192, 20000, [(8192, 20480), (8192, 16384), (8192, 24576)]),  # 0.02, 0.18, 0.23
        (300, 1024, [(256, 1024), (256, 512), (512, 1024)]),  # 0.15, 0.65, 0.71
    ],
)
def test_the_three_nearest_sizes_in_order(cpu, memory, nearest):
    assert nearest_sizes(cpu, memory) == nearest
    message = describe_invalid(cpu, memory)
    assert message.endswith("nearest valid sizes: " + ", ".join(f"cpu={c} memory={m}" for c, m in nearest))
