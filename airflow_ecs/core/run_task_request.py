"""From an Airflow task to a checked RunTask request.

render (Jinja template -> dict) -> identify (startedBy, tags, clientToken) -> apply executor_config ->
validate (botocore's own RunTask model, the 8,192-character overrides limit). Each step is a function of
data; the executor only calls ``build_request``.
"""

from __future__ import annotations

import functools
import json
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from airflow_ecs.core.config import EcsConfig
from airflow_ecs.core.errors import UserError
from airflow_ecs.core.executor_config import (
    TaskSettings,
    apply_settings,
    container_override,
    merge_environment,
    merge_run_task_kwargs,
)

# The identity of a try and its tokens live in identity.py (tracking needs them without jinja2); re-exported here.
from airflow_ecs.core.identity import (  # noqa: F401
    CLIENT_TOKEN_LIMIT,
    STARTED_BY_LIMIT,
    TaskIdentity,
    client_token,
    started_by,
    with_launch,
)

OVERRIDES_LIMIT = 8192  # characters of the overrides JSON, as ECS counts them
TAGS_LIMIT = 50  # per ECS resource; botocore's model does not check it
_TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]")
DEFAULT_TEMPLATE_NAME = "run_task_template.json.j2"


class RequestError(ValueError, UserError):
    """The request for one task cannot be built; the message says why and what would be right."""


class TemplateError(RequestError):
    """The run_task template does not render to a valid request; names the template and its line."""


def default_template_path() -> Path:
    return Path(str(resources.files("airflow_ecs.templates").joinpath(DEFAULT_TEMPLATE_NAME)))


@dataclass(frozen=True)
class RunTaskTemplate:
    path: Path
    source: str
    template: jinja2.Template

    def line_of(self, lineno: int | None) -> str:
        if not lineno:
            return f"{self.path}"
        lines = self.source.splitlines()
        text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
        return f"{self.path}:{lineno}: {text}"

    def line_mentioning(self, name: str) -> str:
        """Where the template writes the JSON key ``name``: what a botocore message points back to."""
        for number, line in enumerate(self.source.splitlines(), start=1):
            if f'"{name}"' in line:
                return self.line_of(number)
        return str(self.path)


def _undefined_is_an_error(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def load_template(path: str | Path | None) -> RunTaskTemplate:
    template_path = Path(path) if path else default_template_path()
    try:
        source = template_path.read_text()
    except OSError as err:
        raise TemplateError(f"run_task_template {template_path}: cannot read it ({err.strerror})") from None
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    # `{{ conf.typo | tojson }}` hands an Undefined to json.dumps, whose TypeError would name no variable:
    # raise Jinja's own UndefinedError from inside the template instead, so the error names line and name.
    environment.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _undefined_is_an_error}
    try:
        template = environment.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"run_task_template {template_path}:{err.lineno}: {err.message}") from None
    return RunTaskTemplate(template_path, source, template)


def render(template: RunTaskTemplate, context: Mapping[str, Any]) -> dict[str, Any]:
    """Render the template and parse the JSON; errors name the template line (or the rendered one)."""
    try:
        text = template.template.render(**context)
    except jinja2.TemplateError as err:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == "<template>"]
        where = template.line_of(frames[-1].lineno if frames else None)
        raise TemplateError(f"run_task_template {where}: {err}") from None
    try:
        request = json.loads(text)
    except json.JSONDecodeError as err:
        rendered = text.splitlines()[err.lineno - 1].strip() if text.splitlines() else ""
        raise TemplateError(
            f"run_task_template {template.path} does not render to JSON: {err.msg} at rendered line {err.lineno} "
            f"({rendered!r})"
        ) from None
    if not isinstance(request, dict):
        raise TemplateError(
            f"run_task_template {template.path} renders to {type(request).__name__}, "
            "expected a JSON object of run_task arguments"
        )
    return request


def template_context(
    config: EcsConfig, identity: TaskIdentity, command: Sequence[str], executor_config: Any
) -> dict[str, Any]:
    return {
        "conf": config.template_values(),
        "command": list(command),
        "dag_id": identity.dag_id,
        "task_id": identity.task_id,
        "run_id": identity.run_id,
        "map_index": identity.map_index,
        "try_number": identity.try_number,
        "queue": identity.queue,
        "executor_config": executor_config or {},
    }


def tag_value(value: object) -> str:
    """ECS tag values take letters, digits, spaces and _ . : / = + - @, up to 256 characters."""
    return _TAG_VALUE_UNSAFE.sub("_", str(value))[:256]


def identity_tags(identity: TaskIdentity) -> list[dict[str, str]]:
    tags = {
        "airflow:dag_id": identity.dag_id,
        "airflow:task_id": identity.task_id,
        "airflow:run_id": identity.run_id,
        "airflow:map_index": str(identity.map_index),
        "airflow:try_number": str(identity.try_number),
    }
    if identity.ti_id:
        tags["airflow:ti_id"] = identity.ti_id
    if identity.team:
        tags["airflow:team"] = identity.team
    return [{"key": key, "value": tag_value(value)} for key, value in tags.items()]


@functools.lru_cache(maxsize=1)
def _run_task_shape():
    import botocore.session

    return botocore.session.get_session().get_service_model("ecs").operation_model("RunTask").input_shape


def validation_problems(request: Mapping[str, Any]) -> str | None:
    """botocore's own report for the RunTask input, or None when the request is valid."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(dict(request), _run_task_shape())
    return report.generate_report() if report.has_errors() else None


def overrides_size(request: Mapping[str, Any]) -> int:
    # botocore sends json.dumps with its default separators; count what goes on the wire.
    return len(json.dumps(request.get("overrides", {})))


def validate(request: Mapping[str, Any], template: RunTaskTemplate | None = None) -> None:
    if request.get("count", 1) != 1:
        where = f" (template {template.line_mentioning('count')})" if template is not None else ""
        # One ECS task per Airflow try: a second container would run untracked, the same try twice.
        raise RequestError(
            f"RunTask count is {request.get('count')!r}{where}: it must be 1 (or absent), one ECS "
            "task per Airflow task try"
        )
    problems = validation_problems(request)
    if problems:
        where = ""
        if template is not None:
            names = re.findall(r'parameter (?:in input: )?"?([A-Za-z0-9_.\[\]]+)', problems)
            if names:
                where = f" (template {template.line_mentioning(names[0].split('.')[-1].split('[')[0])})"
        raise RequestError(f"invalid RunTask request{where}: {' '.join(problems.split())}")
    tags = request.get("tags") or []
    if len(tags) > TAGS_LIMIT:
        ours = sum(1 for tag in tags if str(tag.get("key", "")).startswith("airflow:"))
        raise RequestError(
            f"RunTask carries {len(tags)} tags, over ECS's limit of {TAGS_LIMIT} ({ours} are the "
            "executor's own): drop some from executor_config tags or the template"
        )
    size = overrides_size(request)
    if size > OVERRIDES_LIMIT:
        raise RequestError(
            f"RunTask overrides are {size} characters, over ECS's limit of {OVERRIDES_LIMIT}: shorten the "
            "environment or command overrides in executor_config, or move settings into the task definition"
        )


def check_template_request(request: Mapping[str, Any], template: RunTaskTemplate) -> None:
    """What the template must not say before the executor adds to it: ``tags`` in boto3's list form (the
    executor puts its own in front; ``count`` is ``validate``'s)."""
    tags = request.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, Mapping) for tag in tags):
        raise TemplateError(
            f'run_task_template {template.line_mentioning("tags")}: "tags" must be a list of '
            '{"key": ..., "value": ...} objects, as boto3 takes them, e.g. '
            '"tags": [{"key": "team", "value": "data"}]'
        )


def build_request(
    *,
    template: RunTaskTemplate,
    config: EcsConfig,
    identity: TaskIdentity,
    command: Sequence[str],
    executor_config: Any,
    settings: TaskSettings,
    launch: int = 0,
    profile: str = "",
) -> dict[str, Any]:
    """The complete, validated RunTask request for one launch of one task.

    ``config`` is already the task's profile's view (``EcsConfig.for_profile``); ``profile`` is its name.
    """
    context = template_context(config, identity, command, executor_config)
    context["profile"] = profile
    request = render(template, context)
    check_template_request(request, template)
    if config.run_task_kwargs:  # [ecs_fargate] run_task_kwargs: over the template, under executor_config
        request = merge_run_task_kwargs(request, config.run_task_extra())
    request["startedBy"] = started_by(identity)
    request["tags"] = identity_tags(identity) + [
        tag for tag in request.get("tags", []) if not str(tag.get("key", "")).startswith("airflow:")
    ]
    # AIRFLOW_IS_EXECUTOR_CONTAINER: what AwsEcsExecutor sets, so code in the image can tell it runs a task.
    environment = [("AIRFLOW_IS_EXECUTOR_CONTAINER", "true")]
    if config.execution_api_server_url:
        environment.append(("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", config.execution_api_server_url))
    merge_environment(container_override(request, config.container_name), environment)
    request = apply_settings(request, settings, config.container_name)
    request["clientToken"] = client_token(identity, launch, request)
    validate(request, template)
    return request
