"""Fixtures for tests that need a Kubernetes API server.

By default a real etcd + kube-apiserver is started on loopback once per test session. With
``TEST_KUBECONFIG=path`` the same tests run against that cluster instead (a kind cluster, a dev cluster).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client import ApiClient

from sagemaker_operator.dev.cluster import LocalCluster
from tests.helpers import client_from_kubeconfig


@dataclass(frozen=True)
class KubeTarget:
    """The cluster the tests run against."""

    kubeconfig: Path
    local: LocalCluster | None

    @property
    def kubectl(self) -> str:
        """The kubectl of the local server's version (built with it), else kubectl on PATH."""
        built = self.local.binaries.kubectl if self.local and self.local.binaries else None
        found = str(built) if built else shutil.which("kubectl")
        if found is None:
            pytest.skip("no kubectl: neither built with the local API server nor on PATH")
        return found


@pytest.fixture(scope="session")
def kube() -> Iterator[KubeTarget]:
    """The Kubernetes API server for this test session: TEST_KUBECONFIG's cluster, or a local one."""
    external = os.environ.get("TEST_KUBECONFIG")
    if external:
        yield KubeTarget(kubeconfig=Path(external), local=None)
        return
    with LocalCluster() as cluster:
        yield KubeTarget(kubeconfig=cluster.kubeconfig_path, local=cluster)


@pytest.fixture(scope="session")
def admin_client(kube: KubeTarget) -> Iterator[ApiClient]:
    """An API client with the kubeconfig's (admin) identity."""
    client = client_from_kubeconfig(kube.kubeconfig)
    yield client
    client.close()


@pytest.fixture
def namespace(admin_client: ApiClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = kubernetes.client.CoreV1Api(admin_client)
    core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(
        name=name, labels={"sagemaker.operator.dev/test": "true"})))
    yield name
    # Without a controller manager the namespace stays Terminating on the local server; that is harmless there
    # and on a real cluster it goes away with its contents.
    core.delete_namespace(name)
