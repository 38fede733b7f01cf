"""A synchronous client for the emulator's admin API (standard library only).

Tests elsewhere drive the emulator through this class without knowing the paths::

    admin = AdminClient("http://127.0.0.1:8123")
    admin.reset()
    admin.set_durations(create=0, update=0.5)
    admin.fail_next("endpoint", "my-endpoint", operation="update", reason="boom")
    admin.set_alarm("my-alarm", "ALARM")
    admin.set_fault("DescribeEndpoint", throttle_rate=1.0, count=2)
    admin.deny_assume_role("arn:aws:iam::111122223333:role/deployer")
    admin.expire_credentials(role_arn="arn:aws:iam::111122223333:role/deployer")
    admin.counters()["callers"]["arn:aws:iam::111122223333:role/deployer"]
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class AdminError(RuntimeError):
    """The admin API answered an error."""


class AdminClient:
    """Client for ``/_emulator/`` on a running emulator at ``base_url``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None

    def health(self) -> dict[str, Any]:
        """``{"ok": true, "resources": N}``."""
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def reset(self) -> None:
        """Forget all resources, credentials, counters, faults, alarms and failure triggers."""
        self._call("POST", "reset", {})

    def snapshot(self) -> dict[str, Any]:
        """``{"resources": [...], "alarms": {...}, "durations": {...}}`` across all accounts/regions."""
        result: dict[str, Any] = self._call("GET", "snapshot")
        return result

    def resources(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Snapshot entries, optionally of one kind (``endpoint``, ``model``, ``scalable-target``...)."""
        items: list[dict[str, Any]] = self.snapshot()["resources"]
        return [r for r in items if kind is None or r["kind"] == kind]

    def counters(self) -> dict[str, Any]:
        """``{"total", "operations", "callers", "errors", "operation_errors"}``."""
        result: dict[str, Any] = self._call("GET", "counters")
        return result

    def reset_counters(self) -> None:
        """Zero all counters."""
        self._call("POST", "counters/reset", {})

    def set_fault(
        self,
        operation: str = "*",
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        error_status: int = 500,
        count: int | None = None,
    ) -> dict[str, Any]:
        """Inject faults into ``operation`` (``*`` = every AWS call); ``count`` limits how many fire."""
        body: dict[str, Any] = {
            "operation": operation,
            "throttle_rate": throttle_rate,
            "error_rate": error_rate,
            "latency_ms": latency_ms,
            "error_status": error_status,
            "count": count,
        }
        result: dict[str, Any] = self._call("POST", "faults", body)
        return result

    def faults(self) -> dict[str, Any]:
        """Configured faults by operation."""
        result: dict[str, Any] = self._call("GET", "faults")
        return result

    def clear_faults(self, operation: str | None = None) -> None:
        """Remove the faults of one operation, or all."""
        self._call("DELETE", "faults" + (f"?operation={operation}" if operation else ""))

    def set_alarm(self, name: str, state: str) -> dict[str, str]:
        """Set a CloudWatch alarm to ``ALARM``/``OK``; ALARM rolls back deployments that name it."""
        result: dict[str, str] = self._call("POST", "alarms", {"name": name, "state": state})
        return result

    def alarms(self) -> dict[str, str]:
        """Alarm states by name."""
        result: dict[str, str] = self._call("GET", "alarms")
        return result

    def fail_next(
        self,
        resource: str,
        name: str,
        operation: str = "any",
        reason: str = "",
        rollback: bool = False,
    ) -> list[dict[str, Any]]:
        """Make the next ``create``/``update`` (or ``any``) of an ``endpoint`` or
        ``inference-component`` named ``name`` fail with ``reason``; with ``rollback=True``
        its next auto-rollback fails instead (endpoint ends UpdateRollbackFailed)."""
        body = {"resource": resource, "name": name, "operation": operation, "reason": reason, "rollback": rollback}
        result: list[dict[str, Any]] = self._call("POST", "failures", body)
        return result

    def failures(self) -> list[dict[str, Any]]:
        """Pending failure triggers."""
        result: list[dict[str, Any]] = self._call("GET", "failures")
        return result

    def clear_failures(self) -> None:
        """Drop all pending failure triggers."""
        self._call("DELETE", "failures")

    def durations(self) -> dict[str, float]:
        """Current lifecycle durations (seconds)."""
        result: dict[str, float] = self._call("GET", "durations")
        return result

    def set_quota(self, kind: str, limit: int | None, region: str | None = None) -> list[dict[str, Any]]:
        """Allow at most ``limit`` resources of ``kind`` (``model``, ``endpoint-config``, ``endpoint``,
        ``inference-component``) per account, in ``region`` or everywhere; creating one more fails with
        ResourceLimitExceeded as AWS's service quotas do. ``None`` removes the quota."""
        result: list[dict[str, Any]] = self._call("POST", "quotas", {"kind": kind, "limit": limit, "region": region})
        return result

    def deny_assume_role(self, role_arn: str) -> dict[str, Any]:
        """Make AssumeRole of ``role_arn`` answer AccessDenied (403), as when its trust policy does not name the
        caller; credentials issued before stay valid."""
        result: dict[str, Any] = self._call("POST", "credentials", {"deny_role": role_arn})
        return result

    def allow_assume_role(self, role_arn: str) -> dict[str, Any]:
        """Undo :meth:`deny_assume_role`."""
        result: dict[str, Any] = self._call("POST", "credentials", {"allow_role": role_arn})
        return result

    def expire_credentials(self, role_arn: str | None = None, access_key: str | None = None) -> int:
        """Expire now the credentials issued for ``role_arn``, or one ``access_key`` (also one the emulator did not
        issue, such as the default caller's), or every issued credential; requests signed with them then answer
        ExpiredTokenException. Answers how many were expired."""
        body = {"expire": {"role_arn": role_arn, "access_key": access_key}}
        result: dict[str, Any] = self._call("POST", "credentials", body)
        return int(result["expired"])

    def deny_bucket(self, bucket: str) -> dict[str, Any]:
        """Make every S3 request for ``bucket`` answer AccessDenied (403), as a bucket policy that does not grant the
        caller would."""
        result: dict[str, Any] = self._call("POST", "credentials", {"deny_bucket": bucket})
        return result

    def allow_bucket(self, bucket: str) -> dict[str, Any]:
        """Undo :meth:`deny_bucket`."""
        result: dict[str, Any] = self._call("POST", "credentials", {"allow_bucket": bucket})
        return result

    def revoke_sessions(self, role_arn: str) -> int:
        """Revoke every session of ``role_arn`` issued so far (IAM's "revoke active sessions"): requests signed with
        them answer AccessDeniedException; a new AssumeRole works. Answers how many were revoked."""
        result: dict[str, Any] = self._call("POST", "credentials", {"revoke_role": role_arn})
        return int(result["revoked"])

    def credentials(self) -> dict[str, Any]:
        """``{"denied_roles": [...], "expired_keys": N, "issued": [{"role_arn", "expiration", "expired",
        "revoked"}]}``."""
        result: dict[str, Any] = self._call("GET", "credentials")
        return result

    def set_durations(
        self,
        create: float | None = None,
        update: float | None = None,
        delete: float | None = None,
        transform: float | None = None,
    ) -> dict[str, float]:
        """Change lifecycle durations for operations started from now on."""
        pairs = (("create", create), ("update", update), ("delete", delete), ("transform", transform))
        body = {k: v for k, v in pairs if v is not None}
        result: dict[str, float] = self._call("POST", "durations", body)
        return result
