"""AWS credentials that follow their source: refreshed before they expire, and again when AWS says they have.

Clients are built once, at ``start()``, and live as long as the scheduler. Credentials often do not: an
assumed role lasts an hour, a connection's session token as long as whoever rotates it decides. So every
client signs with one ``FollowingCredentials`` object, which asks its source for new credentials

- when the source's own credentials say they are due (botocore's refreshable credentials: assumed roles,
  web identity, the ECS/EC2 role), and
- after any client is answered ``ExpiredToken`` or a sibling code: the source is read again (an Airflow
  connection through its secrets backend, a profile, boto3's chain), at most once per ``MIN_RELOAD_SECONDS``
  so a storm of failing calls reads a secrets backend once.

The sources, in the order [ecs_fargate] names them:

- ``aws_conn_id`` with the amazon provider installed (``pip install airflow-ecs[amazon]``): the provider's
  ``AwsBaseHook`` builds the session, as Airflow's AwsEcsExecutor does, so ``role_arn``,
  ``assume_role_method`` (web identity included), ``region_name`` and every other extra a user's ``aws``
  connection holds work here too.
- ``aws_conn_id`` without it: the connection's access key (login/password), ``aws_session_token`` and
  ``profile_name``; any other extra is refused with a line naming the provider that would read it.
- otherwise ``aws_profile`` or boto3's own chain.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, ReadOnlyCredentials

from airflow_ecs.core.errors import UserError

# What AWS answers when a signature's credentials have expired or been rotated away. Reading the source
# again is the fix for the first three; for the last two it is harmless, and the call's own error still
# reaches the caller.
EXPIRED_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
MIN_RELOAD_SECONDS = 10.0
# The light path only knows these extras; the amazon provider knows every one of its own.
LIGHT_EXTRA_KEYS = ("aws_session_token", "region_name", "profile_name", "endpoint_url")


class CredentialsError(ValueError, UserError):
    """The configured credentials source cannot give AWS credentials; the message says which and why."""


class FollowingCredentials(Credentials):
    """botocore credentials that read their source again when told the current ones are stale.

    botocore signs every request with ``get_frozen_credentials()``; that is the one place the current
    credentials are read, under a lock, so a reload never hands a signer half of an old key pair.
    """

    def __init__(self, load: Callable[[], Credentials | None], *, clock: Callable[[], float] = time.monotonic):
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._inner = load()
        # Reloads asked for by an expired answer, rate-limited; the first is never held back (a connection
        # whose token had already expired when the scheduler started).
        self._reloaded_at = -math.inf
        self._stale = False
        self.method = "airflow-ecs"
        self.reloads = 0

    @property
    def available(self) -> bool:
        return self._inner is not None

    def mark_stale(self) -> bool:
        """AWS said the credentials expired: read the source before the next signature (rate-limited)."""
        with self._lock:
            if self._clock() - self._reloaded_at < MIN_RELOAD_SECONDS:
                return False
            self._stale = True
            return True

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        with self._lock:
            if self._stale:
                self._stale = False
                self._reloaded_at = self._clock()
                self.reloads += 1
                fresh = self._load()
                if fresh is not None:
                    self._inner = fresh
            if self._inner is None:
                return ReadOnlyCredentials(None, None, None)
            # A refreshable inner object refreshes itself here when it is due.
            return self._inner.get_frozen_credentials()

    # botocore reads these on a few paths (presigning, some customisations): same answer as a signer gets.
    # Credentials.__init__ is not called: these properties are the only state a caller can see.
    @property
    def access_key(self) -> str:
        return self.get_frozen_credentials().access_key

    @property
    def secret_key(self) -> str:
        return self.get_frozen_credentials().secret_key

    @property
    def token(self) -> str | None:
        return self.get_frozen_credentials().token


@dataclass(frozen=True)
class Source:
    """Where credentials come from: ``load()`` reads them (again), ``endpoint_url`` from a connection."""

    load: Callable[[], Credentials | None]
    endpoint_url: str | None
    description: str


def light_connection_kwargs(
    conn_id: str, login: str | None, password: str | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """boto3 Session arguments from an Airflow connection's fields (login/password = the access key)."""
    unknown = sorted(set(extra) - set(LIGHT_EXTRA_KEYS))
    if unknown:
        raise CredentialsError(
            f"connection {conn_id!r}: extra field {unknown[0]!r} needs the amazon provider "
            "(pip install 'airflow-ecs[amazon]'); without it the known extras are "
            f"{', '.join(LIGHT_EXTRA_KEYS)}"
        )
    if bool(login) != bool(password):
        raise CredentialsError(
            f"connection {conn_id!r}: set both login (access key id) and password (secret "
            "access key), or neither to use profile_name or boto3's chain"
        )
    kwargs: dict[str, Any] = {key: extra[key] for key in LIGHT_EXTRA_KEYS if extra.get(key)}
    if login:
        kwargs["aws_access_key_id"] = login
        kwargs["aws_secret_access_key"] = password
    return kwargs


def amazon_provider_installed() -> bool:
    try:
        import airflow.providers.amazon.aws.hooks.base_aws  # noqa: F401
    except ImportError:
        return False
    return True


def _read_connection(conn_id: str, team_name: str | None = None) -> Any:
    from airflow_ecs.glue.airflow_compat import connection_from_secrets

    try:
        return connection_from_secrets(conn_id, team_name)
    except Exception as error:  # noqa: BLE001 - AirflowNotFoundException or a secrets backend's own error
        raise CredentialsError(
            f"[ecs_fargate] aws_conn_id = {conn_id!r}: {error}; create it, e.g. "
            f"AIRFLOW_CONN_{conn_id.upper()}='aws://KEY_ID:SECRET@/?region_name=us-east-1'"
        ) from None


def hook_source(conn_id: str, region: str, team_name: str | None = None) -> Source:
    """The amazon provider's session factory over the connection, which is what AwsBaseHook does (and so
    AwsEcsExecutor), with the connection read as this executor sees it: the team's, for a team's executor."""
    from airflow.providers.amazon.aws.hooks.base_aws import resolve_session_factory
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    def wrapper() -> Any:
        return AwsConnectionWrapper(conn=_read_connection(conn_id, team_name), region_name=region)

    def load() -> Credentials | None:
        # resolve_session_factory: a deployment's own [aws] session_factory is honoured, as by every AWS hook.
        return resolve_session_factory()(conn=wrapper(), region_name=region).create_session().get_credentials()

    first = wrapper()  # a missing connection: our one line now, not the provider's traceback at first use
    return Source(load, first.endpoint_url, f"Airflow connection {conn_id!r} through the amazon provider")


def light_source(conn_id: str, region: str, team_name: str | None = None) -> Source:
    """The connection's own fields (the team's, for a team's executor), read again on every reload (a rotated
    key is picked up)."""

    def session_kwargs() -> dict[str, Any]:
        connection = _read_connection(conn_id, team_name)
        return light_connection_kwargs(conn_id, connection.login, connection.password, connection.extra_dejson)

    first = session_kwargs()

    def load() -> Credentials | None:
        kwargs = {key: value for key, value in session_kwargs().items() if key not in ("endpoint_url", "region_name")}
        return boto3.session.Session(region_name=region, **kwargs).get_credentials()

    return Source(load, first.get("endpoint_url"), f"Airflow connection {conn_id!r}")


def chain_source(profile: str, region: str) -> Source:
    def load() -> Credentials | None:
        return boto3.session.Session(profile_name=profile or None, region_name=region).get_credentials()

    try:
        boto3.session.Session(profile_name=profile or None)  # reads the config files, no AWS call
    except botocore.exceptions.ProfileNotFound:
        raise CredentialsError(
            f"[ecs_fargate] aws_profile = {profile!r}: no such profile in the AWS config files "
            "(~/.aws/config, ~/.aws/credentials); name one of their profiles, or leave it empty "
            "for boto3's chain"
        ) from None
    return Source(load, None, f"AWS profile {profile!r}" if profile else "boto3's credential chain")


def source_for(aws_conn_id: str, aws_profile: str, region: str, team_name: str | None = None) -> Source:
    if aws_conn_id:
        return (hook_source if amazon_provider_installed() else light_source)(aws_conn_id, region, team_name)
    return chain_source(aws_profile, region)


class _Provider(CredentialProvider):
    METHOD = "airflow-ecs"

    def __init__(self, credentials: FollowingCredentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials | None:
        return self._credentials if self._credentials.available else None


def session_with(credentials: FollowingCredentials, region: str) -> boto3.session.Session:
    """A boto3 session whose every client signs with ``credentials``."""
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver([_Provider(credentials)]))
    return boto3.session.Session(botocore_session=core, region_name=region)


def reload_on_expiry(client: Any, credentials: FollowingCredentials) -> Any:
    """Have ``client`` mark ``credentials`` stale when AWS answers that they expired."""

    def after_call(parsed: Mapping[str, Any] | None = None, **_: Any) -> None:
        code = ((parsed or {}).get("Error") or {}).get("Code")
        if code in EXPIRED_CODES:
            credentials.mark_stale()

    client.meta.events.register("after-call", after_call)
    return client
