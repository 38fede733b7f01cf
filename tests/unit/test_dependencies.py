"""The installed dependencies are the modern ones, and the source layout does not shadow the standard library."""

from __future__ import annotations

import operator
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def test_botocore_is_modern() -> None:
    # An unconstrained resolution once fell back to boto3 0.0.3 / botocore 0.76.0, which lack SageMaker hosting.
    assert Version(version("botocore")) >= Version("1.35")
    assert Version(version("boto3")) >= Version("1.35")


def test_kopf_has_the_stalled_watch_fix() -> None:
    assert Version(version("kopf")) >= Version("1.44")


def test_pyproject_keeps_the_lower_bounds_that_prevent_the_fallback() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "boto3>=1.35" in dependencies
    assert "botocore>=1.35" in dependencies
    assert any(d.startswith("kopf>=1.44") for d in dependencies)


def test_operator_folder_is_not_a_package_shadowing_the_standard_library() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists()
    assert hasattr(operator, "itemgetter")
    assert not Path(operator.__file__ or "").is_relative_to(ROOT)
