"""The Argo CD health checks (deploy/argocd/health/*.lua) run with Lua 5.1, as Argo CD runs them, against status
the operator's own code builds; and the argocd-cm snippet that installs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.api.kinds import KINDS as API_KINDS
from sagemaker_operator.status import Outcome, build_status
from tests.chart.tools import REPO, require_lua

HEALTH = REPO / "deploy" / "argocd" / "health.lua"
ARGOCD_CM = REPO / "deploy" / "argocd" / "argocd-cm.yaml"
# Every kind the operator defines needs a health check.
KINDS = tuple(kind.kind for kind in API_KINDS)


def lua_literal(value: Any) -> str:
    """A JSON-like value as a Lua 5.1 table constructor (Argo CD hands the object to the script the same way)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # Every byte outside a safe set as a 3-digit decimal escape (Lua 5.1 has no hexadecimal escapes).
        safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/=,;()'")
        return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in value.encode()) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    return "{" + ", ".join(f"[{lua_literal(str(k))}] = {lua_literal(v)}" for k, v in value.items()) + "}"


def health(kind: str, obj: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """Run the health check on ``obj`` (of ``kind``) with lua5.1; return (hs.status, hs.message)."""
    driver = tmp_path / "driver.lua"
    driver.write_text(
        f"obj = {lua_literal(obj)}\n"
        f"local check = assert(loadfile({lua_literal(str(HEALTH))}))\n"
        "local hs = check()\n"
        'io.write(tostring(hs.status), "\\n", tostring(hs.message))\n')
    result = subprocess.run([str(require_lua()), str(driver)], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0, result.stderr
    status, _, message = result.stdout.partition("\n")
    return status, message


def sample(kind: str, generation: int, status: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": kind,
                           "metadata": {"name": "churn", "namespace": "ml", "generation": generation},
                           "spec": {}}
    if status is not None:
        obj["status"] = status
    return obj


def status_for(outcome: Outcome, generation: int) -> dict[str, Any]:
    """The status the operator writes for ``outcome`` (its own code), as it comes back from the API as JSON."""
    built: dict[str, Any] = json.loads(json.dumps(build_status({}, outcome, generation)))
    return built


READY = Outcome.ready("InService", "endpoint churn is InService on config churn-1a2b")
PROGRESSING = Outcome.progressing("Updating", "updating endpoint churn to config churn-3c4d")
DEGRADED = Outcome.degraded("InvalidSpec", "spec.productionVariants[0].instanceType: ml.bogus is not an instance type")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("generation", "status", "expected"), [
    (1, None, ("Progressing", "Waiting for the operator to reconcile this {kind}")),
    (1, {}, ("Progressing", "Waiting for the operator to reconcile this {kind}")),
    (1, {"conditions": []}, ("Progressing", "Waiting for the operator to reconcile generation 1")),
    (2, status_for(READY, 2), ("Healthy", READY.message)),
    # Ready for an older spec: the operator has not caught up with the change yet.
    (3, status_for(READY, 2), ("Progressing", "Waiting for the operator to reconcile generation 3")),
    (2, status_for(PROGRESSING, 2), ("Progressing", PROGRESSING.message)),
    (2, status_for(DEGRADED, 2), ("Degraded", DEGRADED.message)),
    # Degraded for an older spec (someone just fixed it): not Degraded until the operator says so again.
    (3, status_for(DEGRADED, 2), ("Progressing", "Waiting for the operator to reconcile generation 3")),
    # Conditions without observedGeneration: the status' own field decides.
    (4, {"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True", "message": "ok"}]},
     ("Healthy", "ok")),
    (5, {"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True", "message": "ok"}]},
     ("Progressing", "Waiting for the operator to reconcile generation 5")),
    (1, {"conditions": [{"type": "Degraded", "status": "True", "reason": "NotOwned"}]}, ("Degraded", "NotOwned")),
])
def test_health(kind: str, generation: int, status: dict[str, Any] | None, expected: tuple[str, str],
                tmp_path: Path) -> None:
    wanted = (expected[0], expected[1].format(kind=kind))
    assert health(kind, sample(kind, generation, status), tmp_path) == wanted


def test_argocd_cm_snippet_installs_exactly_these_scripts() -> None:
    document = yaml.safe_load(ARGOCD_CM.read_text())
    assert (document["kind"], document["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    crd_kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in (REPO / "crds").glob("*.yaml")}
    assert set(KINDS) <= crd_kinds
    expected = {f"resource.customizations.health.sagemaker.operator.dev_{kind}": HEALTH.read_text() for kind in KINDS}
    assert document["data"] == expected, "deploy/argocd/argocd-cm.yaml differs from deploy/argocd/health.lua"
