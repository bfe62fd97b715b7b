"""Fargate's valid task sizes, checked before any AWS call."""

from __future__ import annotations

# CPU units -> (lowest MiB, highest MiB, step MiB), from the Fargate task size table.
FARGATE_SIZES: dict[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),  # 512, 1024, 2048 (1536 is not offered; see valid_memory)
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}


def valid_memory(cpu: int) -> list[int]:
    """Every memory size (MiB) Fargate accepts with ``cpu`` units; empty for an unknown CPU size."""
    if cpu == 256:
        return [512, 1024, 2048]
    if cpu not in FARGATE_SIZES:
        return []
    low, high, step = FARGATE_SIZES[cpu]
    return list(range(low, high + 1, step))


def is_valid(cpu: int, memory: int) -> bool:
    return memory in valid_memory(cpu)


def nearest_sizes(cpu: int, memory: int, count: int = 3) -> list[tuple[int, int]]:
    """The valid (cpu, memory) pairs closest to the asked one, nearest first.

    Distance weighs a CPU step like a memory step relative to the asked size, so a request for
    (1024, 1000) suggests (256, 1024) and (512, 1024) before (1024, 2048).
    """
    pairs = [(c, m) for c in FARGATE_SIZES for m in valid_memory(c)]

    def distance(pair: tuple[int, int]) -> float:
        c, m = pair
        return abs(c - cpu) / max(cpu, 1) + abs(m - memory) / max(memory, 1)

    return sorted(pairs, key=lambda pair: (distance(pair), pair))[:count]


def describe_invalid(cpu: int, memory: int) -> str:
    """One sentence for a size Fargate refuses: what is wrong and the nearest valid sizes."""
    nearest = ", ".join(f"cpu={c} memory={m}" for c, m in nearest_sizes(cpu, memory))
    if cpu not in FARGATE_SIZES:
        what = f"Fargate has no cpu={cpu} (valid: {', '.join(map(str, FARGATE_SIZES))})"
    else:
        low, high, step = FARGATE_SIZES[cpu]
        allowed = "512, 1024 or 2048" if cpu == 256 else f"{low}-{high} in steps of {step}"
        what = f"Fargate cpu={cpu} takes memory {allowed} MiB, not {memory}"
    return f"{what}; nearest valid sizes: {nearest}"
