"""A task's executor_config over its queue profile's settings, key by key (pure: no AWS, no Airflow)."""

from __future__ import annotations

from airflow_ecs.core.config import Profile
from airflow_ecs.core.executor_config import TaskSettings, parse_executor_config, with_profile

PROFILE = Profile(
    "heavy", queues=("heavy",), cpu=1024, memory=4096, gpu=1, tags=(("team", "etl"), ("cost-center", "42"))
)


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


# --- the section as a profile's task sees it (EcsConfig.for_profile) ---


def section(**extra):
    from airflow_ecs.core.config import EcsConfig, parse_capacity_provider_strategy

    strategy = parse_capacity_provider_strategy("capacity_provider_strategy", "FARGATE_SPOT:1")
    return EcsConfig(
        region="us-east-1",
        cluster="c",
        container_name="airflow-worker",
        task_definition="td",
        launch_type="",
        capacity_provider_strategy=strategy,
        **extra,
    )


def test_a_profiles_launch_type_replaces_the_sections_capacity_providers():
    view = section().for_profile(Profile("on-demand", launch_type="FARGATE"))
    assert (view.launch_type, view.capacity_provider_strategy) == ("FARGATE", ())


def test_a_profiles_capacity_providers_replace_the_sections_launch_type():
    from airflow_ecs.core.config import parse_capacity_provider_strategy

    strategy = parse_capacity_provider_strategy("capacity_provider_strategy", "FARGATE:1")
    base = section()
    base = base.__class__(**{**base.__dict__, "launch_type": "FARGATE", "capacity_provider_strategy": ()})
    view = base.for_profile(Profile("mixed", capacity_provider_strategy=strategy))
    assert (view.launch_type, view.capacity_provider_strategy) == ("", strategy)


def test_a_profile_without_launch_settings_keeps_the_sections():
    base = section()
    view = base.for_profile(Profile("heavy", task_definition="airflow-heavy", container_name="heavy-worker"))
    assert (view.launch_type, view.capacity_provider_strategy) == ("", base.capacity_provider_strategy)
    assert (view.task_definition, view.container_name) == ("airflow-heavy", "heavy-worker")
