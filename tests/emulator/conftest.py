"""Fixtures: one in-thread emulator per test session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emulator_helpers import client

from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.server import EmulatorThread


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(validate_responses=True, seed=7) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _reset(emulator: EmulatorThread) -> None:
    emulator.admin.reset()


@pytest.fixture
def admin(emulator: EmulatorThread) -> AdminClient:
    return emulator.admin


@pytest.fixture
def sm(emulator: EmulatorThread) -> Any:
    return client(emulator, "sagemaker")


@pytest.fixture
def sm_raw(emulator: EmulatorThread) -> Any:
    """No client-side parameter validation, so the server's validation is what answers."""
    return client(emulator, "sagemaker", raw=True)


@pytest.fixture
def rt(emulator: EmulatorThread) -> Any:
    return client(emulator, "sagemaker-runtime")


@pytest.fixture
def aas(emulator: EmulatorThread) -> Any:
    return client(emulator, "application-autoscaling")
