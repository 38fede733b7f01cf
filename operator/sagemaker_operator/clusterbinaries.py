"""Find, or install once, the etcd and kube-apiserver binaries of the local Kubernetes API server.

No container engine runs on the machines this project is developed and tested on, so kind and k3d are out.
Instead the local stack runs etcd and kube-apiserver as plain processes (the envtest approach). Where the
binaries come from, in order:

1. ``KUBEBUILDER_ASSETS``: the envtest convention, a folder holding ``etcd`` and ``kube-apiserver``;
2. ``PATH``;
3. the cache folder (``$XDG_CACHE_HOME/sagemaker-operator/bin``, default ``~/.cache/sagemaker-operator/bin``);
4. an install: etcd from Debian's ``etcd-server`` package, and kube-apiserver built once from Debian's
   ``kubernetes`` source package (the whole upstream 1.20 tree with ``vendor/``), then cached.

The build is done by hand here because no package ships a kube-apiserver binary for Debian bookworm and nothing
but the registries (PyPI, Debian, npm) can be reached, so envtest's usual download is impossible.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ETCD = "etcd"
KUBE_APISERVER = "kube-apiserver"

# Debian bookworm's kubernetes source package: 1.20.5+really1.20.2.
_DEBIAN_SOURCE_PACKAGE = "kubernetes"
_DEB_SRC_FILE = Path("/etc/apt/sources.list.d/sagemaker-operator-deb-src.sources")
_BUILD_PACKAGES = ("golang-go", "rsync", "jq", "make", "dpkg-dev", "golang-github-modern-go-reflect2-dev")
# reflect2 v1.0.1 (vendored by Kubernetes 1.20) crashes under Go >= 1.18 with "fatal error: fault" during map
# iteration; Debian's package carries the fixed v1.0.2.
_REFLECT2_SOURCE = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")

Progress = Callable[[str], None]


class BinariesNotFound(RuntimeError):
    """The binaries are neither present nor installable on this machine."""


@dataclass(frozen=True)
class ClusterBinaries:
    """Paths of the two programs a local API server needs."""

    etcd: Path
    kube_apiserver: Path


def cache_dir() -> Path:
    """The folder where built binaries are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagemaker-operator" / "bin"


def _print_progress(message: str) -> None:
    print(f"[local-cluster] {message}", file=sys.stderr, flush=True)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _lookup(name: str) -> Path | None:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and _executable(Path(assets) / name):
        return Path(assets) / name
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    cached = cache_dir() / name
    if _executable(cached):
        return cached
    return None


def find_binaries() -> ClusterBinaries | None:
    """Return the binaries if both are present already, without installing anything."""
    etcd, apiserver = _lookup(ETCD), _lookup(KUBE_APISERVER)
    if etcd and apiserver:
        return ClusterBinaries(etcd=etcd, kube_apiserver=apiserver)
    return None


def ensure_binaries(progress: Progress = _print_progress) -> ClusterBinaries:
    """Return the binaries, installing what is missing (once; concurrent callers wait for one install)."""
    found = find_binaries()
    if found:
        return found
    target = cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target / ".install.lock", progress):
        if _lookup(ETCD) is None:
            _install_etcd(progress)
        if _lookup(KUBE_APISERVER) is None:
            _build_kube_apiserver(target, progress)
    found = find_binaries()
    if found is None:
        raise BinariesNotFound("etcd and kube-apiserver are still missing after the install")
    return found


@contextlib.contextmanager
def _exclusive_lock(path: Path, progress: Progress) -> Iterator[None]:
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another process is installing the API server binaries; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_apt() -> None:
    if shutil.which("apt-get") is None:
        raise BinariesNotFound(
            "etcd and kube-apiserver were not found and this machine has no apt-get to install them. "
            "Put both in a folder and set KUBEBUILDER_ASSETS to it, or add them to PATH, "
            "or set TEST_KUBECONFIG/--kubeconfig to use an existing cluster."
        )
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        raise BinariesNotFound("installing etcd and building kube-apiserver needs root (or sudo) for apt-get")


def _root_command(args: list[str]) -> list[str]:
    return args if os.geteuid() == 0 else ["sudo", "-n", *args]


def _run(args: list[str], progress: Progress, *, cwd: Path | None = None, env: dict[str, str] | None = None,
         what: str) -> None:
    """Run a command, keeping its output in a log that is shown only when it fails."""
    with tempfile.TemporaryFile(mode="w+") as log:
        completed = subprocess.run(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, check=False)
        if completed.returncode != 0:
            log.seek(0)
            tail = log.read()[-4000:]
            raise BinariesNotFound(f"{what} failed (exit {completed.returncode}):\n{tail}")


_apt_updated = False


def _apt_install(packages: list[str], progress: Progress) -> None:
    global _apt_updated
    _require_apt()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        progress("apt-get update")
        _run(_root_command(["apt-get", "update"]), progress, env=env, what="apt-get update")
        _apt_updated = True
    progress(f"apt-get install {' '.join(packages)}")
    _run(_root_command(["apt-get", "install", "-y", "--no-install-recommends", *packages]), progress, env=env,
         what=f"apt-get install {' '.join(packages)}")


def _install_etcd(progress: Progress) -> None:
    _apt_install(["etcd-server"], progress)


def _ensure_deb_src(progress: Progress) -> None:
    """Add a deb-src entry for bookworm, mirroring the machine's own Debian mirror."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    uri = "http://deb.debian.org/debian"
    if sources.is_file():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                uri = line.split(":", 1)[1].strip()
                break
    if _DEB_SRC_FILE.exists():
        return
    progress(f"adding a deb-src entry for bookworm ({_DEB_SRC_FILE})")
    content = (
        "Types: deb-src\n"
        f"URIs: {uri}\n"
        "Suites: bookworm\n"
        "Components: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    with tempfile.NamedTemporaryFile("w", delete=False) as draft:
        draft.write(content)
    _run(_root_command(["install", "-m", "0644", draft.name, str(_DEB_SRC_FILE)]), progress,
         what="writing the deb-src entry")
    os.unlink(draft.name)
    global _apt_updated
    _apt_updated = False


def _build_kube_apiserver(target: Path, progress: Progress) -> None:
    started = time.monotonic()
    progress("kube-apiserver not found: building it once from Debian's kubernetes source package "
             "(about 4-6 minutes and 1.3 GB of memory on 2 cores; the result is cached in "
             f"{target})")
    _require_apt()
    _ensure_deb_src(progress)
    _apt_install(list(_BUILD_PACKAGES), progress)
    with tempfile.TemporaryDirectory(prefix="sagemaker-operator-k8s-build-") as workdir:
        work = Path(workdir)
        progress("apt-get source kubernetes (about 30 MB)")
        _run(["apt-get", "source", "--download-only", _DEBIAN_SOURCE_PACKAGE], progress, cwd=work,
             what="apt-get source kubernetes")
        dsc = next(work.glob("kubernetes_*.dsc"))
        _run(["dpkg-source", "--no-check", "-x", dsc.name, "src"], progress, cwd=work, what="dpkg-source -x")
        tree = work / "src"
        reflect2 = tree / "vendor" / "github.com" / "modern-go" / "reflect2"
        if not _REFLECT2_SOURCE.is_dir():
            raise BinariesNotFound(f"{_REFLECT2_SOURCE} is missing after installing "
                                   "golang-github-modern-go-reflect2-dev")
        shutil.rmtree(reflect2)
        shutil.copytree(_REFLECT2_SOURCE, reflect2, symlinks=False)
        gopath = work / ".go"
        link = gopath / "src" / "k8s.io" / "kubernetes"
        link.parent.mkdir(parents=True)
        link.symlink_to(tree)
        env = {
            **os.environ,
            "GOPATH": str(gopath),
            "GO111MODULE": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
            "GOCACHE": str(work / ".gocache"),
            "KUBE_GIT_VERSION": "v1.20.2",
            "KUBE_GIT_TREE_STATE": "clean",
        }
        progress("go build of cmd/kube-apiserver (the long step)")
        _run(["make", "WHAT=cmd/kube-apiserver"], progress, cwd=link, env=env,
             what="make WHAT=cmd/kube-apiserver")
        built = next((p for p in (tree / "_output").rglob(KUBE_APISERVER) if _executable(p)), None)
        if built is None:
            raise BinariesNotFound("the build finished but produced no kube-apiserver binary")
        staged = target / f".{KUBE_APISERVER}.partial"
        shutil.copy2(built, staged)
        staged.replace(target / KUBE_APISERVER)
    progress(f"kube-apiserver built and cached in {time.monotonic() - started:.0f} s")


def main() -> None:
    """Install the binaries if needed and print where they are (used by scripts/test and scripts/dev)."""
    binaries = ensure_binaries()
    print(f"etcd: {binaries.etcd}")
    print(f"kube-apiserver: {binaries.kube_apiserver}")


if __name__ == "__main__":
    main()
