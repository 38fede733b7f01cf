"""The helm matrix: a test that takes ``helm_tool`` (or a module fixture built on ``module_helm_tool``) runs once
per helm of ``HELMS``, with ids like helm-3.10.1."""

from __future__ import annotations

import pytest

from tests.chart.tools import HELMS, Helm


@pytest.fixture(params=HELMS, ids=lambda tool: tool.id)
def helm_tool(request: pytest.FixtureRequest) -> Helm:
    """Each helm in turn; a missing one skips its tests, saying the bootstrap was bypassed."""
    tool: Helm = request.param
    tool.require()
    return tool


@pytest.fixture(scope="module", params=HELMS, ids=lambda tool: tool.id)
def module_helm_tool(request: pytest.FixtureRequest) -> Helm:
    """Each helm in turn for module-scoped fixtures (a release shared by several tests), grouped by version."""
    tool: Helm = request.param
    tool.require()
    return tool
