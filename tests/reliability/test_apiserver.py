"""The operator's connection to the API server: a restart of kube-apiserver (etcd keeps its data) and a watch stream
that stalls without closing. In both, changes made while the operator is cut off are reconciled within a bound.

The operator talks to the API server through :class:`StallingProxy`, a TCP proxy in the test that can cut or stall
its connections (TLS passes through it untouched).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.api.admission import wait_for_finalizer_policy
from tests.conftest import KubeTarget
from tests.crd_helpers import server_minor
from tests.helpers import wait_for
from tests.operator_harness import Objects
from tests.reliability.harness import (
    CONFIG,
    ENDPOINT,
    IMAGE,
    MODEL,
    OperatorProcess,
    StallingProxy,
    apiserver_port,
    create_chain,
    proxied_kubeconfig,
)
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster

# Short watch timeouts for the stalled-watch test: kopf asks the API server to end each watch after this many
# seconds (server_timeout), and gives up on a silent stream 30 s later (client_timeout, handlers.py).
WATCH_SERVER_TIMEOUT = 10
RECOVERY_BOUND = 60.0


@pytest.fixture
def proxy(kube: KubeTarget) -> Iterator[StallingProxy]:
    with StallingProxy(apiserver_port(kube.kubeconfig)) as running:
        yield running


def _runs(objects: Objects, name: str, tag: str) -> bool:
    """The endpoint is Ready on a config whose model has image tag ``tag``."""
    model = objects.get(MODEL, name) or {}
    config = objects.get(CONFIG, name) or {}
    endpoint = objects.get(ENDPOINT, name) or {}
    ready = (objects.condition(ENDPOINT, name, "Ready") or {}).get("status") == "True"
    return bool(ready and model.get("spec", {}).get("primaryContainer", {}).get("image", "").endswith(f":{tag}")
                and (objects.condition(MODEL, name, "Ready") or {}).get("observedGeneration")
                == model["metadata"]["generation"]
                and config.get("status", {}).get("modelNames") == [model.get("status", {}).get("modelName")]
                and endpoint.get("status", {}).get("currentEndpointConfigName")
                == config.get("status", {}).get("endpointConfigName"))


def test_api_server_restart_changes_made_while_disconnected_are_reconciled(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str],
        emulator: EmulatorThread, proxy: StallingProxy, operator_factory: Callable[..., OperatorProcess],
        tmp_path: Path) -> None:
    if kube.local is None:
        pytest.skip("restarting the API server needs the local cluster (not TEST_KUBECONFIG)")
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    kubeconfig = proxied_kubeconfig(kube.kubeconfig, proxy.port, tmp_path / "proxied.kubeconfig")
    with operator_factory([namespace], kubeconfig=kubeconfig, name="restart") as operator:
        create_chain(objects, "before")
        objects.wait_condition(ENDPOINT, "before", "Ready", timeout=60)
        # The operator loses the API server: its connections drop and the server goes down and comes back with
        # etcd's data. The proxy keeps the operator cut off while the changes are made, so it must find them itself.
        proxy.block()
        restart_started = time.monotonic()
        try:
            kube.local.stop_apiserver()
        finally:
            kube.local.start_apiserver()
        if server_minor(admin_client) >= 36:
            # A fresh API server answers creates of the operator's kinds 503 until it has loaded the finalizer
            # policy and their types (a few seconds), as kubectl or Argo CD would see it: wait it out.
            wait_for_finalizer_policy(admin_client, namespace)
        restart_seconds = time.monotonic() - restart_started
        objects.patch(MODEL, "before", {"spec": {"primaryContainer": {"image": f"{IMAGE}-before:2"}}})
        create_chain(objects, "during")
        objects.delete(ENDPOINT, "doomed")  # nothing: deleting an unknown name must not confuse anything
        unblocked = time.monotonic()
        proxy.unblock()
        wait_for(lambda: _runs(objects, "before", "2") and _runs(objects, "during", "1"), timeout=RECOVERY_BOUND,
                 what="the changes made while the operator was cut off to be reconciled")
        recovery = time.monotonic() - unblocked
        print(f"\nAPI server restart took {restart_seconds:.1f} s; the operator reconciled the changes made while "
              f"it was cut off {recovery:.1f} s after it could reach the API server again")
        assert operator.alive()
        assert_invariants(admin_client, emulator, Scope([namespace], degraded={}, connection_trouble=True),
                          operator.log_text())


def test_stalled_watch_is_restarted_within_the_watch_timeouts(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str],
        emulator: EmulatorThread, proxy: StallingProxy, operator_factory: Callable[..., OperatorProcess],
        tmp_path: Path) -> None:
    """A watch whose connection stops delivering without closing (a dead NAT entry, a hung load balancer).

    The operator must notice within its watch timeouts (``--watch-timeout-seconds``, set short here) and reconnect.
    """
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    kubeconfig = proxied_kubeconfig(kube.kubeconfig, proxy.port, tmp_path / "proxied.kubeconfig")
    with operator_factory([namespace], kubeconfig=kubeconfig, name="stall",
                          extra_args=["--watch-timeout-seconds", str(WATCH_SERVER_TIMEOUT)]) as operator:
        create_chain(objects, "stalled")
        objects.wait_condition(ENDPOINT, "stalled", "Ready", timeout=60)
        stalled = proxy.stall()
        assert stalled >= 4, f"expected the operator's four watch streams through the proxy, saw {stalled}"
        stalled_at = time.monotonic()
        objects.patch(MODEL, "stalled", {"spec": {"primaryContainer": {"image": f"{IMAGE}-stalled:2"}}})
        bound = WATCH_SERVER_TIMEOUT + 30 + 20  # client timeout, then a relist and one rollout
        wait_for(lambda: _runs(objects, "stalled", "2"), timeout=bound,
                 what="the change made behind a stalled watch to be reconciled")
        print(f"\nstalled watch: change reconciled {time.monotonic() - stalled_at:.1f} s after the stall "
              f"({stalled} connections stalled)")
        proxy.release_stalled()
        assert operator.alive()
        assert_invariants(admin_client, emulator, Scope([namespace], degraded={}, connection_trouble=True),
                          operator.log_text())
