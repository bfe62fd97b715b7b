"""The deep health check of a deployment, one ``Check`` per thing that can be wrong.

Each check is a small function of a boto3 client and the config that returns a ``Check``; the executor's
start-up health check runs the cluster and task definition ones, ``airflow-ecs check`` (``cli/check.py``) runs
them all.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from airflow_ecs.aws import ecs_api
from airflow_ecs.core.config import EcsConfig
from airflow_ecs.core.containers import container_named
from airflow_ecs.core.failures import FailureKind, classify_error

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    # A failure AWS may not repeat (throttling, 5xx, a dropped connection): the same check may pass again.
    retryable: bool = False


def _aws_error(error: Exception) -> str:
    return classify_error(error).describe()


def _transient(error: Exception) -> bool:
    return classify_error(error).kind in (FailureKind.THROTTLED, FailureKind.TRANSIENT)


def check_identity(sts: Any) -> tuple[Check, str | None]:
    try:
        arn = sts.get_caller_identity()["Arn"]
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        return Check("credentials", FAIL, f"no usable AWS credentials: {_aws_error(error)}"), None
    return Check("credentials", OK, f"calling as {arn}"), arn


def check_cluster(ecs: Any, config: EcsConfig) -> Check:
    try:
        cluster = ecs_api.describe_cluster(ecs, config.cluster)
    except Exception as error:  # noqa: BLE001
        return Check(
            "cluster",
            FAIL,
            f"cannot describe cluster {config.cluster!r} in {config.region}: {_aws_error(error)}",
            retryable=_transient(error),
        )
    if cluster is None:
        return Check(
            "cluster",
            FAIL,
            f"cluster {config.cluster!r} not found in {config.region}; check [ecs_fargate] cluster and region",
        )
    attached = list(cluster.get("capacityProviders") or [])
    missing = [name for name in strategy_providers(config) if name not in attached]
    if missing:
        return Check(
            "cluster",
            FAIL,
            f"cluster {config.cluster!r} has no capacity provider {missing[0]!r} (attached: "
            f"{', '.join(attached) or 'none'}); attach it to the cluster or fix "
            "[ecs_fargate] capacity_provider_strategy",
        )
    providers = ", ".join(attached) or "none"
    return Check(
        "cluster",
        OK,
        f"{cluster.get('clusterArn', config.cluster)} ({cluster.get('status')}; capacity providers: {providers})",
    )


def strategy_providers(config: EcsConfig) -> list[str]:
    """Every capacity provider a task of this config may be launched on (section, fallback, each profile): a
    strategy naming one the cluster lacks fails every such RunTask."""
    names: list[str] = []
    strategies = [
        config.capacity_provider_strategy,
        config.fallback_capacity_provider_strategy,
        *(profile.capacity_provider_strategy or () for profile in config.profiles),
    ]
    for strategy in strategies:
        names.extend(item.capacity_provider for item in strategy if item.capacity_provider not in names)
    return names


def check_task_definition(
    describe: Callable[[str], Mapping[str, Any]], config: EcsConfig
) -> tuple[Check, Mapping[str, Any] | None]:
    """The configured task definition, described once: the check, and the definition when it could be read."""
    if not config.task_definition:
        return Check("task definition", SKIP, "no task_definition configured (the run_task template names it)"), None
    try:
        definition = describe(config.task_definition)
    except Exception as error:  # noqa: BLE001
        retryable = _transient(error)
        # What retrying cannot fix says what would be right; a throttle or a 5xx is retried as it is.
        where = f"a family, family:revision or ARN registered in {config.region}"
        hint = "" if retryable else f"; check [ecs_fargate] task_definition ({where})"
        return Check(
            "task definition",
            FAIL,
            f"task definition {config.task_definition!r}: {_aws_error(error)}{hint}",
            retryable=retryable,
        ), None
    names = [str(c.get("name")) for c in definition.get("containerDefinitions") or []]
    if config.container_name not in names:
        return Check(
            "task definition",
            FAIL,
            f"task definition {config.task_definition!r} has no container "
            f"{config.container_name!r} (it has {', '.join(names)}); check "
            "[ecs_fargate] container_name",
        ), definition
    return Check(
        "task definition", OK, f"{definition.get('taskDefinitionArn')} runs container {config.container_name!r}"
    ), definition


def check_logs(definition: Mapping[str, Any], config: EcsConfig) -> Check:
    container = container_named(definition.get("containerDefinitions"), config.container_name)
    if container is None:
        return Check("logs", SKIP, "no task definition to read")
    log_config = container.get("logConfiguration") or {}
    if log_config.get("logDriver") == "awslogs":
        options = log_config.get("options") or {}
        return Check(
            "logs", OK, f"awslogs to {options.get('awslogs-group')} (prefix {options.get('awslogs-stream-prefix')})"
        )
    return Check(
        "logs",
        WARN,
        f"container {config.container_name!r} does not log through awslogs: the "
        "Airflow UI cannot show its log and failures come without their last lines",
    )


ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)


def ecr_image(image: str) -> dict[str, str] | None:
    """An ECR image URI's parts (account, region, repository, tag or digest), or None for another registry."""
    match = ECR_IMAGE.match(image or "")
    if match is None:
        return None
    parts = {key: value for key, value in match.groupdict().items() if value}
    if "tag" not in parts and "digest" not in parts:
        parts["tag"] = "latest"
    return parts


def check_image(ecr: Any, definition: Mapping[str, Any], config: EcsConfig) -> Check:
    """The Airflow container's image exists in ECR: else every task stops with CannotPullContainerError."""
    container = container_named(definition.get("containerDefinitions"), config.container_name)
    if container is None:
        return Check("image", SKIP, "no task definition to read")
    image = str(container.get("image") or "")
    parts = ecr_image(image)
    if parts is None:
        return Check("image", SKIP, f"{image or '(none)'} is not in ECR; not checked")
    if parts["region"] != config.region:
        return Check("image", SKIP, f"{image} is in ECR in {parts['region']}, not {config.region}; not checked")
    image_id = {"imageDigest": parts["digest"]} if "digest" in parts else {"imageTag": parts["tag"]}
    try:
        ecr.describe_images(registryId=parts["account"], repositoryName=parts["repository"], imageIds=[image_id])
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return Check(
                "image",
                FAIL,
                f"{image} is not in ECR ({code}): every task would stop with "
                "CannotPullContainerError; push it (make image) or fix the task definition",
            )
        return Check("image", WARN, f"cannot look {image} up in ECR ({_aws_error(error)})")
    return Check("image", OK, f"{image} is in ECR")


def network_views(config: EcsConfig) -> list[EcsConfig]:
    """The config as the section and each profile sees it: a profile may bring its own subnets and groups."""
    return [config, *(config.for_profile(profile) for profile in config.profiles)]


def check_network(ec2: Any, config: EcsConfig) -> Check:
    if not config.subnets:
        return Check("network", SKIP, "no subnets configured (the cluster's or the template's network applies)")
    try:
        subnets = ec2.describe_subnets(SubnetIds=list(config.subnets))["Subnets"]
        groups = (
            ec2.describe_security_groups(GroupIds=list(config.security_groups))["SecurityGroups"]
            if config.security_groups
            else []
        )
    except Exception as error:  # noqa: BLE001
        return Check(
            "network",
            FAIL,
            f"subnets {','.join(config.subnets)} / security groups "
            f"{','.join(config.security_groups)}: {_aws_error(error)}",
        )
    vpcs = {s["VpcId"] for s in subnets} | {g["VpcId"] for g in groups}
    if len(vpcs) > 1:
        return Check("network", FAIL, f"subnets and security groups are in different VPCs ({', '.join(sorted(vpcs))})")
    zones = sorted({s.get("AvailabilityZone", "?") for s in subnets})
    return Check(
        "network",
        OK,
        f"{len(subnets)} subnets in {', '.join(zones)}, {len(groups)} security groups, VPC {next(iter(vpcs), '?')}",
    )


def role_arn_of_caller(caller_arn: str) -> str:
    """``arn:...:sts::acct:assumed-role/Name/session`` -> ``arn:...:iam::acct:role/Name``; users stay as they are."""
    parts = caller_arn.split(":")
    if len(parts) >= 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return ":".join([parts[0], parts[1], "iam", "", parts[4], f"role/{role}"])
    return caller_arn


def check_pass_role(iam: Any, caller_arn: str | None, definition: Mapping[str, Any] | None) -> Check:
    roles = [arn for arn in ((definition or {}).get("taskRoleArn"), (definition or {}).get("executionRoleArn")) if arn]
    if not caller_arn or not roles:
        return Check("iam:PassRole", SKIP, "no caller identity or no roles in the task definition")
    try:
        results = iam.simulate_principal_policy(
            PolicySourceArn=role_arn_of_caller(caller_arn),
            ActionNames=["iam:PassRole"],
            ResourceArns=roles,
            ContextEntries=[
                {
                    "ContextKeyName": "iam:PassedToService",
                    "ContextKeyType": "string",
                    "ContextKeyValues": ["ecs-tasks.amazonaws.com"],
                }
            ],
        )["EvaluationResults"]
    except Exception as error:  # noqa: BLE001 - simulation needs its own permission; say so, do not fail
        return Check("iam:PassRole", SKIP, f"could not simulate ({_aws_error(error)}); RunTask will tell")
    denied = [r["EvalResourceName"] for r in results if r.get("EvalDecision") != "allowed"]
    if denied:
        return Check(
            "iam:PassRole",
            FAIL,
            f"the scheduler may not pass {', '.join(denied)} to ECS: attach the "
            "scheduler_policy_arn output of terraform/ to its role",
        )
    return Check("iam:PassRole", OK, f"may pass {len(roles)} roles to ecs-tasks.amazonaws.com")


def check_events_queue(sqs: Any, config: EcsConfig) -> Check:
    if not config.events_queue_url:
        return Check(
            "events queue", SKIP, f"none configured: tasks are tracked by polling every {config.poll_interval:g}s"
        )
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=config.events_queue_url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"]
        )["Attributes"]
    except Exception as error:  # noqa: BLE001
        return Check("events queue", FAIL, f"{config.events_queue_url}: {_aws_error(error)}")
    return Check(
        "events queue",
        OK,
        f"{attributes.get('QueueArn')} ({attributes.get('ApproximateNumberOfMessages')} messages waiting)",
    )


def execution_api_url(config: EcsConfig, definition: Mapping[str, Any] | None) -> str:
    if config.execution_api_server_url:
        return config.execution_api_server_url
    container = container_named((definition or {}).get("containerDefinitions"), config.container_name)
    for item in (container or {}).get("environment") or []:
        if item.get("name") == "AIRFLOW__CORE__EXECUTION_API_SERVER_URL":
            return str(item.get("value") or "")
    return ""


def check_execution_api(url: str, opener: Callable[..., Any] = urllib.request.urlopen) -> Check:
    if not url:
        return Check(
            "execution API",
            WARN,
            "no execution_api_server_url and none in the task definition: tasks "
            "would call http://localhost:8080/execution/, which is not the API server",
        )
    try:
        opener(url, timeout=5).close()
    except urllib.error.HTTPError as error:  # it answered: reachable, whatever the path's status
        return Check("execution API", OK, f"{url} answers (HTTP {error.code}) from this machine")
    except (OSError, ValueError) as error:
        return Check(
            "execution API",
            FAIL,
            f"{url} unreachable from this machine ({error}); tasks need it too, from their subnets",
        )
    return Check("execution API", OK, f"{url} answers from this machine (tasks reach it from their subnets)")


def run_checks(config: EcsConfig, client: Callable[[str], Any]) -> list[Check]:
    identity, caller = check_identity(client("sts"))
    checks = [identity]
    ecs = client("ecs")
    checks.append(check_cluster(ecs, config))
    definition = None
    ecr = client("ecr")
    for view in config.launch_views():  # the section's own task definition first, then each profile's
        check, view_definition = check_task_definition(partial(ecs_api.describe_task_definition, ecs), view)
        definition = definition or view_definition
        checks.append(check)
        checks.append(check_logs(view_definition or {}, view))
        checks.append(check_image(ecr, view_definition or {}, view))
    ec2 = client("ec2")
    networks = dict.fromkeys((view.subnets, view.security_groups) for view in network_views(config))
    for subnets, groups in networks:  # the section's network, then each profile's own, each once
        checks.append(check_network(ec2, dataclasses.replace(config, subnets=subnets, security_groups=groups)))
    checks.append(check_pass_role(client("iam"), caller, definition))
    checks.append(check_events_queue(client("sqs"), config))
    checks.append(check_execution_api(execution_api_url(config, definition)))
    return checks
