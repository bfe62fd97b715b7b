"""A task's executor_config over its queue profile's settings, key by key (pure: no AWS, no Airflow)."""

from __future__ import annotations

from airflow_ecs.config import Profile
from airflow_ecs.executor_config import TaskSettings, parse_executor_config, with_profile

PROFILE = Profile("heavy", queues=("heavy",), cpu=1024, memory=4096, gpu=1,
                  tags=(("team", "etl"), ("cost-center", "42")))


def test_the_tasks_own_tag_wins_over_its_profiles_same_named_tag():
    merged = with_profile(parse_executor_config({"tags": {"team": "ml", "owner": "ana"}}), PROFILE)
    assert dict(merged.tags) == {"team": "ml", "cost-center": "42", "owner": "ana"}


def test_the_tasks_own_size_wins_over_its_profiles():
    merged = with_profile(parse_executor_config({"cpu": 2048, "memory": 8192, "gpu": 2}), PROFILE)
    assert (merged.cpu, merged.memory, merged.gpu) == (2048, 8192, 2)


def test_what_the_task_leaves_unset_comes_from_its_profile():
    merged = with_profile(TaskSettings(), PROFILE)
    assert (merged.cpu, merged.memory, merged.gpu) == (1024, 4096, 1)
    assert dict(merged.tags) == {"team": "etl", "cost-center": "42"}


def test_a_task_without_a_profile_keeps_its_settings():
    settings = parse_executor_config({"cpu": 256, "tags": {"team": "ml"}})
    assert with_profile(settings, None) == settings
