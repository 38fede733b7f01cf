"""Helpers shared by the tests: waiting with deadlines, service-account identities, operator processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import kubernetes
from kubernetes.client import ApiClient

from sagemaker_operator.dev.cluster import kubeconfig_document, start_child, stop_child, write_kubeconfig

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Call ``probe`` until it returns something truthy; fail naming ``what`` when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def client_from_kubeconfig(path: Path) -> ApiClient:
    """A Kubernetes API client for one kubeconfig, without touching the global default configuration."""
    return kubernetes.config.new_client_from_config(config_file=str(path))


def service_account_kubeconfig(admin: ApiClient, namespace: str, name: str, path: Path) -> Path:
    """Write a kubeconfig that authenticates as ServiceAccount ``namespace/name`` through a TokenRequest.

    This is the identity a pod of that service account has, so RBAC is checked exactly as in a cluster.
    """
    core = kubernetes.client.CoreV1Api(admin)
    request = kubernetes.client.AuthenticationV1TokenRequest(
        spec=kubernetes.client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    token = core.create_namespaced_service_account_token(name, namespace, request).status.token
    configuration = admin.configuration
    ca_pem = Path(configuration.ssl_ca_cert).read_bytes() if configuration.ssl_ca_cert else b""
    document = kubeconfig_document(configuration.host, ca_pem, token, f"system:serviceaccount:{namespace}:{name}",
                                   namespace=namespace)
    return write_kubeconfig(path, document)


@contextlib.contextmanager
def operator_process(args: list[str], *, kubeconfig: Path, log_path: Path,
                     extra_env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m <args>`` as an operator process with its own kubeconfig; stop it at the end.

    The process is always reaped, and its log is printed when the block fails, so a failing test shows what the
    operator said.
    """
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), **(extra_env or {})}
    process = start_child([sys.executable, "-m", *args], log_path, env=env)
    try:
        yield process
    except BaseException:
        print(f"--- operator log ({log_path}) ---\n{log_path.read_text(errors='replace')[-8000:]}")
        raise
    finally:
        stop_child(process)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "")
    return state not in ("Z", "X")
