"""boto3 clients per (service, region, role), shared by every reconcile.

Clients are thread-safe and expensive to build (they load the service model), so there is one per key. A role
given by ``assumeRoleArn`` is assumed with botocore's own refreshing assume-role credentials, so long-running
operators never use expired session tokens.

Retries default to botocore's standard mode: jittered exponential backoff (1 s base for throttling) and a retry quota
per client that stops retrying when most calls fail, so a throttled account is not made worse; the operator's own
per-object backoff takes over from there. Adaptive mode (a client-side rate limiter) is an option, not the default:
AWS recommends it only for specialised single-tenant uses, because one throttled caller slows every other caller of
the client. Here a client is shared by every object in a region, so one team's throttling would slow all teams.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from sagemaker_operator import __version__
from sagemaker_operator.api import shapes

SESSION_NAME = "sagemaker-operator"
RetryMode = Literal["standard", "adaptive"]
RETRY_MODES: tuple[RetryMode, ...] = ("standard", "adaptive")


@dataclass(frozen=True)
class AwsTarget:
    """Where an object's AWS resources live: a region, and optionally a role to assume there."""

    region: str
    role_arn: str | None = None


class ClientFactory:
    """Builds and caches boto3 clients; the only place that knows about credentials."""

    def __init__(self, *, retry_mode: RetryMode = "standard", max_attempts: int = 5, max_pool_connections: int = 32,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0) -> None:
        if retry_mode not in RETRY_MODES:
            raise ValueError(f"retry mode must be one of {', '.join(RETRY_MODES)}, not {retry_mode!r}")
        self._config = Config(
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra=f"sagemaker-operator/{__version__}",
        )
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._sessions: dict[tuple[str, str | None], boto3.Session] = {}

    def client(self, service: str, target: AwsTarget) -> Any:
        """A client for ``service`` in the target's region, with the target's role if it names one."""
        key = (service, target.region, target.role_arn)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # Typed per service by boto3-stubs; the factory is generic over services.
                session: Any = self._session(target)
                client = session.client(service, region_name=target.region, config=self._config)
                self._clients[key] = client
            return client

    def forget(self, target: AwsTarget, stale: Any = None) -> None:
        """Drop the target's session and clients, so the next call resolves credentials afresh.

        botocore refreshes credentials only by their own expiry time; AWS may refuse them sooner (a revoked session,
        a rotated credentials file, clock skew). With ``stale``, only if that client is still the cached one: when
        many calls fail at once, the first forgets and the others reuse the fresh client it leads to. Calls under
        way keep the clients they hold.
        """
        with self._lock:
            keys = [k for k in self._clients if (k[1], k[2]) == (target.region, target.role_arn)]
            if stale is not None and not any(self._clients[k] is stale for k in keys):
                return
            self._sessions.pop((target.region, target.role_arn), None)
            for key in keys:
                del self._clients[key]

    def _session(self, target: AwsTarget) -> boto3.Session:
        key = (target.region, target.role_arn)
        session = self._sessions.get(key)
        if session is not None:
            return session
        if target.role_arn is None:
            session = boto3.Session(botocore_session=shapes.session(), region_name=target.region)
        else:
            session = self._assumed_role_session(target.region, target.role_arn)
        self._sessions[key] = session
        return session

    def _assumed_role_session(self, region: str, role_arn: str) -> boto3.Session:
        source: Any = boto3.Session(botocore_session=shapes.session(), region_name=region)
        source_credentials = source.get_credentials()

        def create_sts_client(service: str, **kwargs: Any) -> Any:
            return source.client(service, region_name=region, config=self._config,
                                 **{k: v for k, v in kwargs.items() if k != "region_name"})

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create_sts_client,
            source_credentials=source_credentials,
            role_arn=role_arn,
            extra_args={"RoleSessionName": SESSION_NAME},
        )
        credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
        core = shapes.session()
        # botocore has no public setter for refreshable credentials; this is the documented-by-use way.
        core._credentials = credentials  # type: ignore[attr-defined]
        return boto3.Session(botocore_session=core, region_name=region)
