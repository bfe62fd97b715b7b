"""A container by name: the one lookup shared by task definitions, tasks and a request's overrides.

ECS names containers in each of them (``containerDefinitions``, ``containers``, ``containerOverrides``), and
only the Airflow container's name (``[ecs_fargate] container_name``, or a profile's) says which one is Airflow's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

Container = TypeVar("Container", bound=Mapping)


def container_named(containers: Iterable[Container] | None, name: str) -> Container | None:
    """The first of ``containers`` called ``name``, or None (no list, or none of that name)."""
    for container in containers or ():
        if container.get("name") == name:
            return container
    return None
