"""Fixtures for tests of the operator: CRDs installed once, an emulator per session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.crd_helpers import apply_crds
from tests.operator_harness import REGION


@pytest.fixture(scope="session")
def crds(admin_client: ApiClient) -> list[str]:
    """The operator's CRDs, installed from crds/."""
    return apply_crds(admin_client)


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[EmulatorThread]:
    """One emulator for the session; endpoints take a moment to create and update, as on AWS (but shorter)."""
    with EmulatorThread(region=REGION, create_seconds=1.0, update_seconds=1.0, delete_seconds=0.5) as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_session: EmulatorThread) -> EmulatorThread:
    """The emulator, emptied for this test."""
    emulator_session.admin.reset()
    return emulator_session
