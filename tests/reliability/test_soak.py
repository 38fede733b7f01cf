"""A short soak in CI (about 90 s): churn again and again, print the operator's RSS over time.

The growth limit (< 5% after warm-up) is asserted only by the full run: ``python -m tests.reliability.soak
--minutes 120``. ``SAGEMAKER_OPERATOR_SOAK_SECONDS`` changes this test's length.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.reliability.harness import OperatorProcess
from tests.reliability.invariants import Scope, assert_invariants
from tests.reliability.soak import soak

pytestmark = pytest.mark.cluster


def test_short_soak_reports_rss_over_time(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    seconds = float(os.environ.get("SAGEMAKER_OPERATOR_SOAK_SECONDS", 80))
    emulator.admin.set_durations(create=0.3, update=0.3, delete=0.2)
    operator = operator_factory([namespace], name="soak")
    operator.verbose = False
    with operator:
        result = soak(admin_client, namespace, operator, seconds, sample_every=5.0)
        print(f"\nsoak of {seconds:.0f} s:\n{result.report()}")
        assert result.rounds >= 1 and len(result.samples) >= 3
        assert_invariants(admin_client, emulator, Scope([namespace], degraded={}), operator.log_text())
