"""Fixtures of the reliability tests: the CRDs and the emulator of the operator tests, plus helpers per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.integration.conftest import crds, emulator, emulator_session  # noqa: F401 - shared fixtures
from tests.reliability.harness import CreationLog, OperatorProcess


@pytest.fixture
def namespaces(admin_client: ApiClient) -> Iterator[Callable[[], str]]:
    """A factory of fresh namespaces (several per test), deleted afterwards."""
    core = kubernetes.client.CoreV1Api(admin_client)
    made: list[str] = []

    def make() -> str:
        name = f"r-{uuid.uuid4().hex[:10]}"
        core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(
            name=name, labels={"sagemaker.operator.dev/test": "true"})))
        made.append(name)
        return name

    yield make
    for name in made:
        core.delete_namespace(name)


@pytest.fixture
def creations(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> CreationLog:  # noqa: F811
    """Every successful Create* the emulator serves in this test, by name."""
    return CreationLog().install(emulator, monkeypatch)


@pytest.fixture
def operator_factory(kube: KubeTarget, emulator: EmulatorThread, tmp_path: Path  # noqa: F811
                     ) -> Iterator[Callable[..., OperatorProcess]]:
    """Build operator processes (stopped at the end of the test, whatever happened)."""
    made: list[OperatorProcess] = []

    def make(namespaces: list[str], extra_args: list[str] | None = None, env: dict[str, str] | None = None,
             kubeconfig: Path | None = None, name: str = "op") -> OperatorProcess:
        log_dir = tmp_path / f"{name}-{len(made)}"
        log_dir.mkdir()
        process = OperatorProcess(kubeconfig or kube.kubeconfig, emulator.url, namespaces, log_dir, extra_args, env)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
