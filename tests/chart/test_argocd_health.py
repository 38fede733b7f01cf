"""The Argo CD health check (deploy/argocd/health.lua) against status the operator's own code builds, run by two
engines: Argo CD's own evaluation on gopher-lua (tools/argocd-health: the Lua VM Argo CD embeds, set up as Argo CD
sets it up, fed the script Argo CD would pick from argocd-cm.yaml for the object) and C Lua 5.1 (the reference
semantics gopher-lua implements). And the argocd-cm snippet that installs the check: keys Argo CD reads.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.api.kinds import KINDS as API_KINDS
from sagemaker_operator.api.kinds import kind_named
from sagemaker_operator.status import Outcome, build_status
from tests.chart.tools import REPO, require_argocd_health, require_lua

HEALTH = REPO / "deploy" / "argocd" / "health.lua"
ARGOCD_CM = REPO / "deploy" / "argocd" / "argocd-cm.yaml"
# Every kind the operator defines needs a health check.
KINDS = tuple(kind.kind for kind in API_KINDS)
ENGINES = ("argocd-gopher-lua", "lua5.1")
CUSTOMIZATIONS = "resource.customizations"


def argocd_override(cm_key: str) -> tuple[str, str] | None:
    """(customization type, resource key) Argo CD makes of an argocd-cm key, None for a key it passes over.

    The same steps as Argo CD v3.6's util/settings/settings.go (appendResourceOverridesFromSplitKeys and
    convertToOverrideKey) for the split form ``resource.customizations.<type>.<group>_<kind>``: split the key on
    the first three dots, then its last part on "_" into group and kind, joined as "<group>/<kind>".
    """
    if not cm_key.startswith(CUSTOMIZATIONS):
        return None
    parts = cm_key.split(".", 3)
    if len(parts) < 4:
        return None  # resource.customizations itself: the older form, one YAML document for every resource
    group_kind = parts[3].split("_")
    if len(group_kind) == 2:
        resource = f"{group_kind[0]}/{group_kind[1]}"
    elif len(group_kind) == 1 and parts[3]:
        resource = parts[3]
    else:
        raise AssertionError(f"Argo CD refuses the whole argocd-cm for key {cm_key!r}")
    return parts[2], "*/*" if resource == "all" else resource


def argocd_resource_key(obj: dict[str, Any]) -> str:
    """The key Argo CD looks a resource's customizations up by: "<group>/<kind>", or "<kind>" for the core group
    (GetConfigMapKey in Argo CD's util/lua/lua.go)."""
    group = obj["apiVersion"].rpartition("/")[0]
    return f"{group}/{obj['kind']}" if group else str(obj["kind"])


def argocd_health_script(obj: dict[str, Any]) -> str:
    """The health script Argo CD takes from deploy/argocd/argocd-cm.yaml for ``obj``."""
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    scripts = {override[1]: value for key, value in data.items()
               if (override := argocd_override(key)) is not None and override[0] == "health"}
    key = argocd_resource_key(obj)
    assert key in scripts, f"argocd-cm.yaml has no health check Argo CD would find for {key}"
    return str(scripts[key])


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


def argocd_health(script: Path, obj: dict[str, Any], *options: str) -> subprocess.CompletedProcess[str]:
    """tools/argocd-health on ``script`` with ``obj`` as JSON on standard input (as the API server returns it)."""
    return subprocess.run([str(require_argocd_health()), *options, str(script)], input=json.dumps(obj),
                          capture_output=True, text=True, timeout=30, check=False)


def health(engine: str, obj: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """Run the health check on ``obj`` with ``engine``; return (hs.status, hs.message)."""
    if engine == "argocd-gopher-lua":
        script = tmp_path / "health.lua"
        script.write_text(argocd_health_script(obj))
        result = argocd_health(script, obj)
        assert result.returncode == 0, result.stderr
        status = json.loads(result.stdout)
        assert status is not None, "the script returned nil: Argo CD would show no health"
        return str(status["status"]), str(status["message"])
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


@pytest.mark.parametrize("engine", ENGINES)
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
def test_health(engine: str, kind: str, generation: int, status: dict[str, Any] | None, expected: tuple[str, str],
                tmp_path: Path) -> None:
    if status is not None:
        # Only statuses the operator can write (its typed status, which the CRD's schema is generated from).
        kind_named(kind).status_model.model_validate(status)
    wanted = (expected[0], expected[1].format(kind=kind))
    assert health(engine, sample(kind, generation, status), tmp_path) == wanted


def test_argocd_engine_has_only_the_libraries_argo_cd_opens(tmp_path: Path) -> None:
    # Why both engines: Argo CD opens base, table, package and a reduced os for an argocd-cm health check (no
    # string or math library unless useOpenLibs is set), where a stock Lua has them all. A script using string
    # works in lua5.1 and fails in Argo CD; the gopher-lua engine must fail it the same way.
    script = tmp_path / "uses-string.lua"
    script.write_text('return {status = "Healthy", message = string.format("%d replicas", 2)}\n')
    refused = argocd_health(script, {})
    assert refused.returncode == 1 and "format" in refused.stderr, refused
    opened = argocd_health(script, {}, "-open-libs")
    assert opened.returncode == 0 and json.loads(opened.stdout) == {"status": "Healthy", "message": "2 replicas"}
    driver = tmp_path / "driver.lua"
    driver.write_text(f"obj = {{}}\nlocal hs = dofile({lua_literal(str(script))})\nio.write(hs.message)\n")
    stock = subprocess.run([str(require_lua()), str(driver)], capture_output=True, text=True, timeout=30,
                           check=False)
    assert stock.returncode == 0 and stock.stdout == "2 replicas", stock
    # A status Argo CD does not know is shown as Unknown, whatever the script meant.
    script.write_text('return {status = "Fine", message = "all good"}\n')
    assert json.loads(argocd_health(script, {}).stdout) == {"status": "Unknown",
                                                           "message": "Lua returned an invalid health status"}


def test_argocd_cm_snippet_installs_exactly_these_scripts() -> None:
    document = yaml.safe_load(ARGOCD_CM.read_text())
    assert (document["kind"], document["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    crd_kinds = {yaml.safe_load(p.read_text())["spec"]["names"]["kind"] for p in (REPO / "crds").glob("*.yaml")}
    assert set(KINDS) <= crd_kinds
    expected = {f"resource.customizations.health.sagemaker.operator.dev_{kind}": HEALTH.read_text() for kind in KINDS}
    assert document["data"] == expected, "deploy/argocd/argocd-cm.yaml differs from deploy/argocd/health.lua"


def test_argocd_cm_keys_are_the_keys_argo_cd_reads() -> None:
    # Argo CD reads argocd-cm keys of the split form resource.customizations.<type>.<group>_<kind> in
    # util/settings/settings.go (appendResourceOverridesFromSplitKeys, convertToOverrideKey): "_" separates the
    # group from the kind (the group keeps its dots), and the result "<group>/<kind>" must equal the key
    # util/lua/lua.go (GetConfigMapKey) looks a live resource up by. Checked against Argo CD v3.6.1.
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    for key in data:
        assert re.fullmatch(r"resource\.customizations\.health\.[a-z0-9]([-a-z0-9.]*[a-z0-9])?_[A-Z][A-Za-z0-9]*",
                            key), f"{key} is not resource.customizations.health.<group>_<Kind>"
    crds = [yaml.safe_load(p.read_text())["spec"] for p in sorted((REPO / "crds").glob("*.yaml"))]
    wanted = {argocd_resource_key({"apiVersion": f"{crd['group']}/{version['name']}", "kind": crd["names"]["kind"]})
              for crd in crds for version in crd["versions"]}
    assert {argocd_override(key) for key in data} == {("health", resource) for resource in wanted}
    # Only the split form: no resource.customizations document, and no useOpenLibs key, so Argo CD runs the
    # checks without the string and math libraries, as the gopher-lua engine above does.
    assert CUSTOMIZATIONS not in data
    assert not [key for key in data if key.startswith(f"{CUSTOMIZATIONS}.useOpenLibs.")]
