"""The container image built from the repository's Dockerfile with buildah, from a locally made Debian base.

Opt-in (``SAGEMAKER_OPERATOR_IMAGE_TEST=1``): it takes several minutes on 2 cores (debootstrap once, then a pip
install inside the build). No registry is reachable and no Docker engine runs on the test machines, so the base is
a Debian bookworm rootfs made with debootstrap and imported into a private buildah store under .cache/image-test,
passed to the Dockerfile as BASE_IMAGE; ``buildah bud --isolation chroot --storage-driver vfs`` builds it and
``buildah run --isolation chroot`` runs commands in the result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_operator import __version__
from tests.chart.tools import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SAGEMAKER_OPERATOR_IMAGE_TEST") != "1",
                       reason="opt-in, takes several minutes: set SAGEMAKER_OPERATOR_IMAGE_TEST=1 to build the image"),
]

WORK = REPO / ".cache" / "image-test"
BASE_TARBALL = WORK / "debian-bookworm-python3.tar"
BASE_IMAGE = "localhost/sagemaker-operator-test-base:bookworm"
IMAGE = "localhost/sagemaker-operator:test"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _run(args: list[str], *, timeout: float, cwd: Path | None = None) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}"
                             f"{result.stdout[-4000:]}")
    return result.stdout


class Buildah:
    """buildah with a private vfs store, so the test neither needs nor touches the machine's image store."""

    def __init__(self, executable: str, root: Path) -> None:
        self.executable = executable
        self.root = root

    def __call__(self, *args: str, timeout: float = 120) -> str:
        return _run([self.executable, "--storage-driver", "vfs", "--root", str(self.root / "storage"),
                     "--runroot", str(self.root / "run"), *args], timeout=timeout)


@pytest.fixture(scope="module")
def buildah() -> Iterator[Buildah]:
    executable = shutil.which("buildah")
    if executable is None:
        pytest.skip("buildah is not installed (apt-get install buildah)")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap): it makes the local base image")
    if not HOST_CA_BUNDLE.exists():
        pytest.skip(f"{HOST_CA_BUNDLE} is missing (apt-get install ca-certificates)")
    if os.geteuid() != 0:
        pytest.skip("debootstrap and buildah's chroot isolation need root here")
    root = WORK / "buildah"
    shutil.rmtree(root, ignore_errors=True)
    tool = Buildah(executable, root)
    try:
        tool("info", timeout=60)
    except AssertionError as error:
        pytest.skip(f"buildah is not usable on this machine: {error}")
    try:
        yield tool
    finally:
        shutil.rmtree(root, ignore_errors=True)  # vfs layers are full copies: hundreds of MB


def _base_tarball() -> Path:
    """A Debian bookworm rootfs with python3 and venv, made once with debootstrap and kept in .cache."""
    if BASE_TARBALL.exists():
        return BASE_TARBALL
    rootfs = WORK / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    _run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm",
          str(rootfs), MIRROR], timeout=900)
    _run(["rm", "-rf", str(rootfs / "var/cache/apt/archives"), str(rootfs / "var/lib/apt/lists")], timeout=60)
    # The base trusts what this machine trusts (its egress may re-sign TLS with a local CA); pip is pointed at
    # this bundle with the PIP_CERT build argument.
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
    partial = BASE_TARBALL.with_suffix(".partial")
    _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], timeout=300)
    partial.rename(BASE_TARBALL)
    shutil.rmtree(rootfs, ignore_errors=True)
    return BASE_TARBALL


@pytest.fixture(scope="module")
def image(buildah: Buildah) -> str:
    tarball = _base_tarball()
    container = buildah("from", "scratch").strip()
    buildah("add", container, str(tarball), "/", timeout=600)
    buildah("commit", "--rm", container, BASE_IMAGE, timeout=600)
    buildah("bud", "--isolation", "chroot", "--pull=never", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
            "--build-arg", f"PIP_CERT={HOST_CA_BUNDLE}",
            "--tag", IMAGE, "--file", str(REPO / "Dockerfile"), str(REPO), timeout=1500)
    return IMAGE


def test_image_runs_the_operator_as_non_root_without_compilers(buildah: Buildah, image: str) -> None:
    config = json.loads(buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    assert config["Entrypoint"] == ["sagemaker-operator", "run"]
    assert config["User"] == "10001:10001"
    container = buildah("from", "--pull=never", image).strip()
    try:
        version = buildah("run", "--isolation", "chroot", container, "--", "sagemaker-operator", "--version")
        assert version.strip() == f"sagemaker-operator, version {__version__}"
        assert buildah("run", "--isolation", "chroot", container, "--", "id", "-u").strip() == "10001"
        help_text = buildah("run", "--isolation", "chroot", container, "--", "sagemaker-operator", "run", "--help")
        assert "--liveness-port" in help_text
        found = buildah("run", "--isolation", "chroot", container, "--", "sh", "-c",
                        "for c in gcc cc c++ g++ clang make; do command -v $c; done; true")
        assert found.strip() == "", f"compilers in the final image: {found}"
        listing = buildah("run", "--isolation", "chroot", container, "--", "ls", "/opt/sagemaker-operator/bin")
        assert "pip" not in listing.split()
    finally:
        buildah("rm", container)
