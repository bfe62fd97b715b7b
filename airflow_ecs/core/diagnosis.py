"""Why an ECS task stopped, in one line a user can act on.

Stop code, stopped reason, the Airflow container's reason and exit code in; a cause and what to do out.
This is what lands in the task instance's event log; no AWS call, no Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass

INFRASTRUCTURE_STOP_CODES = frozenset({"SpotInterruption", "TerminationNotice", "TaskFailedToStart"})


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    action: str
    # The container never got to run the task because of ECS/Fargate, not because of the task itself.
    infrastructure: bool = False

    def line(self) -> str:
        return f"{self.cause}. {self.action}"


def diagnose(
    stop_code: str | None,
    stopped_reason: str | None,
    container_reason: str | None,
    exit_code: int | None,
) -> Diagnosis:
    stop_code = stop_code or ""
    reason = stopped_reason or ""
    container_reason = container_reason or ""
    text = f"{reason} {container_reason}"
    said = [f"{stop_code}: {reason}" if stop_code and reason else reason or stop_code, container_reason]
    detail = f" ({'; '.join(part for part in said if part)})" if any(said) else ""

    if "CannotPullContainerError" in text or "pull image" in text.lower():
        return Diagnosis(
            f"the image could not be pulled{detail}",
            "Check the image URI and tag in the task definition, that the execution role may pull it, and that "
            "the subnets reach ECR and S3 (a NAT gateway, or VPC endpoints for ecr.api, ecr.dkr and S3)",
            infrastructure=True,
        )
    if "network interface" in text.lower() or "ENI" in reason:
        return Diagnosis(
            f"the task's network interface could not be set up{detail}",
            "Usually transient; check the subnets have free IP addresses and the ENI limit of the account",
            infrastructure=True,
        )
    if "unable to pull secrets" in text or "ResourceInitializationError" in text:
        return Diagnosis(
            f"the task's secrets or registry auth could not be fetched{detail}",
            "Check that the execution role may read the listed Secrets Manager/SSM ARNs and that the subnets "
            "reach Secrets Manager/SSM (NAT or VPC endpoints)",
            infrastructure=True,
        )
    if stop_code == "SpotInterruption":
        return Diagnosis(
            f"Fargate Spot reclaimed the capacity{detail}",
            "Relaunched if the task had not started; otherwise Airflow retries it when retries remain "
            "(set a fallback_capacity_provider_strategy or use FARGATE for tasks that must not be interrupted)",
            infrastructure=True,
        )
    if stop_code == "TerminationNotice":
        return Diagnosis(
            f"the task was stopped by an AWS maintenance or termination notice{detail}",
            "Relaunched if the task had not started; otherwise Airflow retries it when retries remain",
            infrastructure=True,
        )
    if "OutOfMemory" in text or (exit_code == 137 and "memory" in text.lower()):
        return Diagnosis(
            f"the container was killed for using more memory than it has{detail}",
            "Raise memory, e.g. executor_config=dict(cpu=1024, memory=4096)",
        )
    if stop_code == "TaskFailedToStart":
        return Diagnosis(f"the task failed to start{detail}", "Relaunched while attempts remain", infrastructure=True)
    if stop_code == "UserInitiated" and exit_code is None:
        return Diagnosis(
            f"the task was stopped before its container ran{detail}",
            "Someone or something called StopTask; see the stopped reason",
        )
    if exit_code is None:
        return Diagnosis(
            f"the Airflow container never reported an exit code{detail}",
            "Check the container's log and the task's stopped reason in the ECS console",
            infrastructure=True,
        )
    if exit_code == 0:
        return Diagnosis("the container exited 0", "Nothing to do")
    if exit_code == 137:
        return Diagnosis(
            f"the container was killed (exit 137), most often for running out of memory{detail}",
            "Raise memory (executor_config=dict(cpu=..., memory=...)); if it was stopped on purpose, it was "
            "killed after ignoring SIGTERM for the stop timeout",
        )
    if exit_code == 143:
        return Diagnosis(
            f"the container was terminated with SIGTERM (exit 143){detail}",
            "It was stopped (StopTask, a scale-in or an interruption); see the stopped reason",
        )
    if exit_code == 1:
        return Diagnosis(
            f"the container exited 1{detail}",
            "The task runner itself failed, most often because it could not reach Airflow's execution API: "
            "check AIRFLOW__CORE__EXECUTION_API_SERVER_URL, the security groups and the route to the API server",
        )
    if exit_code in (126, 127):
        return Diagnosis(
            f"the container's command could not run (exit {exit_code}){detail}",
            "The image lacks Python or Airflow 3's task SDK; build it from docker/Dockerfile",
        )
    return Diagnosis(
        f"the container exited {exit_code}{detail}",
        "See the task's log; a non-zero exit means the task runner failed, not the Airflow task",
    )
