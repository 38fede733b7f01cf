"""Find, or build once, the etcd, kube-apiserver and kubectl binaries of the local Kubernetes API server.

No container engine runs on the machines this project is developed and tested on, so kind and k3d are out.
Instead the local stack runs etcd and kube-apiserver as plain processes (the envtest approach), at a Kubernetes
version of the caller's choice (``--kubernetes-version``, or ``SAGEMAKER_OPERATOR_KUBERNETES_VERSION``; default
:data:`DEFAULT_KUBERNETES_VERSION`). Where the binaries come from, in order:

1. ``KUBEBUILDER_ASSETS``: the envtest convention, a folder holding ``etcd`` and ``kube-apiserver``;
2. ``PATH`` (``kube-apiserver`` and ``etcd`` both there);
3. the cache folder of that version (``$XDG_CACHE_HOME/sagemaker-operator/bin/v1.37.2``, default under ``~/.cache``);
4. a build, cached in that folder:

   - Kubernetes >= 1.21 from the Go module proxy: a throw-away main module requires ``k8s.io/kubernetes`` at the
     version, replaces its ``k8s.io/*`` staging modules (which its own go.mod points at local folders, and a
     dependent module does not inherit) by their matching ``v0.N.x`` tags, and builds ``cmd/kube-apiserver`` and
     ``cmd/kubectl``; etcd is built in the same module at the version Kubernetes itself requires, so the pair is
     the one upstream tests together. Needs a Go toolchain (>= the one the Kubernetes release declares).
   - Kubernetes 1.20 (the oldest supported version, and the fallback where no Go toolchain can build a modern
     one): kube-apiserver and kubectl from Debian bookworm's ``kubernetes`` source package, built with Debian's
     Go 1.19, and etcd from Debian's ``etcd-server`` package.

With an explicit version, binaries from ``KUBEBUILDER_ASSETS`` or ``PATH`` are used only when their minor version
matches; without one they win whatever their version (on a laptop with internet, envtest's ``setup-envtest``
binaries are the quickest way to any version).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
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
KUBECTL = "kubectl"
VERSION_ENV = "SAGEMAKER_OPERATOR_KUBERNETES_VERSION"

# The newest Kubernetes release the Go module proxy served when this was pinned; what tests and `dev` run on.
DEFAULT_KUBERNETES_VERSION = "1.37.2"
# Debian bookworm's kubernetes source package (1.20.5+really1.20.2): the oldest version the project supports.
DEBIAN_KUBERNETES_VERSION = "1.20.2"
# A minor version alone picks the patch release tested here.
PINNED_PATCHES = {"1.37": DEFAULT_KUBERNETES_VERSION, "1.20": DEBIAN_KUBERNETES_VERSION}
# Module builds are offered from this minor on: the releases users run today. Older ones were never tried here;
# 1.20 comes from Debian instead.
OLDEST_MODULE_MINOR = 29
_VERSION = re.compile(r"^v?(1)\.(\d+)(?:\.(\d+))?$")

_DEBIAN_SOURCE_PACKAGE = "kubernetes"
_DEB_SRC_FILE = Path("/etc/apt/sources.list.d/sagemaker-operator-deb-src.sources")
_BUILD_PACKAGES = ("golang-go", "rsync", "jq", "make", "dpkg-dev", "golang-github-modern-go-reflect2-dev")
# reflect2 v1.0.1 (vendored by Kubernetes 1.20) crashes under Go >= 1.18 with "fatal error: fault" during map
# iteration; Debian's package carries the fixed v1.0.2.
_REFLECT2_SOURCE = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
_DEBIAN_GO = Path("/usr/bin/go")
_DEBIAN_ETCD = Path("/usr/bin/etcd")
# Where a Go toolchain for the module builds may be, besides $GO: the upstream tarball's place, then PATH. Debian's
# golang-go (1.19, pulled in by the 1.20 build) links itself as /usr/bin/go and can shadow a newer one on PATH.
_GO_CANDIDATES = (Path("/usr/local/go/bin/go"),)
_MIN_MODULE_GO = (1, 24)

Progress = Callable[[str], None]


class BinariesNotFound(RuntimeError):
    """The binaries are neither present nor installable on this machine."""


@dataclass(frozen=True)
class ClusterBinaries:
    """Paths of the programs a local API server needs, and the Kubernetes version they are (``1.37.2``)."""

    etcd: Path
    kube_apiserver: Path
    kubectl: Path | None = None
    version: str = ""

    @property
    def minor(self) -> int:
        """The minor version (37 for 1.37.2); 0 when unknown."""
        parsed = parse_version(self.version) if self.version else None
        return parsed[1] if parsed else 0


def parse_version(text: str) -> tuple[int, int, int | None] | None:
    """``1.37.2`` / ``v1.37`` -> (1, 37, 2) / (1, 37, None); None when it is not a Kubernetes 1.x version."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3]) if match[3] is not None else None


def _release(version: str) -> tuple[int, int]:
    """(minor, patch) of a resolved version such as ``1.37.2``."""
    parsed = parse_version(version)
    if parsed is None or parsed[2] is None:
        raise BinariesNotFound(f"not a Kubernetes release: {version!r}")
    return parsed[1], parsed[2]


def requested_version(explicit: str | None = None) -> str | None:
    """The version asked for: ``explicit`` (a flag), else ``$SAGEMAKER_OPERATOR_KUBERNETES_VERSION``, else None."""
    return explicit or os.environ.get(VERSION_ENV) or None


def resolve_version(requested: str | None) -> str:
    """The full patch version to run for a request (``1.20`` -> ``1.20.2``; None -> the default).

    Raises BinariesNotFound, naming the accepted forms, for anything that is not a buildable 1.x version.
    """
    if requested is None:
        return DEFAULT_KUBERNETES_VERSION
    parsed = parse_version(requested)
    if parsed is None:
        raise BinariesNotFound(f"Kubernetes version {requested!r}: expected 1.MINOR or 1.MINOR.PATCH, e.g. "
                               f"{DEFAULT_KUBERNETES_VERSION} or 1.20")
    _, minor, patch = parsed
    if patch is None:
        pinned = PINNED_PATCHES.get(f"1.{minor}")
        if pinned is None:
            raise BinariesNotFound(f"Kubernetes version {requested!r}: give the patch release too (1.{minor}.N); "
                                   f"minors alone: {', '.join(sorted(PINNED_PATCHES))}")
        return pinned
    if minor == 20:
        return DEBIAN_KUBERNETES_VERSION
    if minor < OLDEST_MODULE_MINOR:
        raise BinariesNotFound(f"Kubernetes version {requested!r}: this project builds 1.20 (from Debian's source "
                               f"package) and 1.{OLDEST_MODULE_MINOR} or newer (from Go modules)")
    return f"1.{minor}.{patch}"


def cache_dir() -> Path:
    """The folder where built binaries are kept between runs (one sub-folder per version)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagemaker-operator" / "bin"


def version_dir(version: str) -> Path:
    """The cache folder of one Kubernetes version (``.../bin/v1.37.2``)."""
    return cache_dir() / f"v{version}"


def _print_progress(message: str) -> None:
    print(f"[local-cluster] {message}", file=sys.stderr, flush=True)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def binary_version(kube_apiserver: Path) -> str:
    """What ``kube-apiserver --version`` says (``Kubernetes v1.37.2`` -> ``1.37.2``); "" when it says nothing usable."""
    try:
        completed = subprocess.run([str(kube_apiserver), "--version"], capture_output=True, text=True, timeout=30,
                                   check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"v(1\.\d+\.\d+)", completed.stdout)
    return match[1] if match else ""


def _folder_binaries(folder: Path) -> ClusterBinaries | None:
    etcd, apiserver, kubectl = folder / ETCD, folder / KUBE_APISERVER, folder / KUBECTL
    if _executable(etcd) and _executable(apiserver):
        return ClusterBinaries(etcd=etcd, kube_apiserver=apiserver, kubectl=kubectl if _executable(kubectl) else None)
    return None


def _path_binaries() -> ClusterBinaries | None:
    etcd, apiserver, kubectl = (shutil.which(name) for name in (ETCD, KUBE_APISERVER, KUBECTL))
    if etcd and apiserver:
        return ClusterBinaries(etcd=Path(etcd), kube_apiserver=Path(apiserver),
                               kubectl=Path(kubectl) if kubectl else None)
    return None


def _with_version(found: ClusterBinaries) -> ClusterBinaries:
    return ClusterBinaries(found.etcd, found.kube_apiserver, found.kubectl, binary_version(found.kube_apiserver))


def find_binaries(version: str | None = None) -> ClusterBinaries | None:
    """The binaries for ``version`` (None: no preference) if they are present already; installs nothing."""
    wanted = resolve_version(version) if version else None
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    for candidate in (_folder_binaries(Path(assets)) if assets else None, _path_binaries()):
        if candidate is None:
            continue
        found = _with_version(candidate)
        if wanted is None or found.minor == _release(wanted)[0]:
            return found
    cached = _folder_binaries(version_dir(wanted or DEFAULT_KUBERNETES_VERSION))
    if cached is not None:
        return ClusterBinaries(cached.etcd, cached.kube_apiserver, cached.kubectl,
                               wanted or DEFAULT_KUBERNETES_VERSION)
    return None


def ensure_binaries(version: str | None = None, progress: Progress = _print_progress) -> ClusterBinaries:
    """The binaries for ``version`` (default: requested by the environment, else the default version), built once.

    Concurrent callers wait for one build. Without an explicit request and without a Go toolchain that can build
    the default version, the Debian 1.20 build is the fallback (said in ``progress``).
    """
    version = requested_version(version)
    found = find_binaries(version)
    if found:
        return found
    wanted = resolve_version(version)
    if _release(wanted)[0] != 20:
        go = find_go()
        if go is None:
            if version is not None:
                raise BinariesNotFound(f"building Kubernetes {wanted} needs a Go toolchain >= "
                                       f"{'.'.join(map(str, _MIN_MODULE_GO))} ($GO, /usr/local/go or PATH)")
            progress(f"no Go toolchain to build Kubernetes {wanted}: falling back to {DEBIAN_KUBERNETES_VERSION} "
                     "from Debian's source package")
            wanted = DEBIAN_KUBERNETES_VERSION
            found = find_binaries(wanted)
            if found:
                return found
    target = version_dir(wanted)
    target.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target / ".install.lock", progress):
        if _folder_binaries(target) is None:
            if _release(wanted)[0] == 20:
                _build_debian(target, progress)
            else:
                _build_from_modules(wanted, target, find_go() or Path("go"), progress)
    built = _folder_binaries(target)
    if built is None:
        raise BinariesNotFound(f"etcd and kube-apiserver are still missing in {target} after the build")
    return ClusterBinaries(built.etcd, built.kube_apiserver, built.kubectl, wanted)


@contextlib.contextmanager
def _exclusive_lock(path: Path, progress: Progress) -> Iterator[None]:
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another process is building the API server binaries; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_version(go: Path) -> tuple[int, int] | None:
    try:
        completed = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True, timeout=60,
                                   check=False, env={**os.environ, "GOTOOLCHAIN": "local"})
    except OSError:
        return None
    match = re.match(r"go(\d+)\.(\d+)", completed.stdout.strip())
    return (int(match[1]), int(match[2])) if match else None


def find_go() -> Path | None:
    """A Go toolchain new enough for the module builds: ``$GO``, /usr/local/go, then ``go`` on PATH."""
    on_path = shutil.which("go")
    explicit = os.environ.get("GO")
    for candidate in (Path(explicit) if explicit else None, *_GO_CANDIDATES, Path(on_path) if on_path else None):
        if candidate is not None and _executable(candidate):
            found = _go_version(candidate)
            if found is not None and found >= _MIN_MODULE_GO:
                return candidate
    return None


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


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, what: str) -> str:
    """Run a command, keeping its output in a log that is shown only when it fails; returns the output."""
    with tempfile.TemporaryFile(mode="w+") as log:
        completed = subprocess.run(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, check=False)
        log.seek(0)
        output = log.read()
        if completed.returncode != 0:
            raise BinariesNotFound(f"{what} failed (exit {completed.returncode}):\n{output[-4000:]}")
        return output


_apt_updated = False


def _apt_install(packages: list[str], progress: Progress) -> None:
    global _apt_updated
    _require_apt()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        progress("apt-get update")
        _run(_root_command(["apt-get", "update"]), env=env, what="apt-get update")
        _apt_updated = True
    progress(f"apt-get install {' '.join(packages)}")
    _run(_root_command(["apt-get", "install", "-y", "--no-install-recommends", *packages]), env=env,
         what=f"apt-get install {' '.join(packages)}")


def _install(built: Path, target: Path, name: str) -> None:
    """Copy a built binary into the cache atomically, so a reader never sees half a file."""
    staged = target / f".{name}.partial"
    shutil.copy2(built, staged)
    staged.replace(target / name)


# ---------------------------------------------------------------------------------------------------------------
# Kubernetes >= 1.29 from the Go module proxy


def module_go_mod(version: str, kubernetes_go_mod: str) -> str:
    """The go.mod of the throw-away main module that builds Kubernetes ``version``.

    ``kubernetes_go_mod`` is k8s.io/kubernetes' own go.mod at that version: each staging module it replaces by a
    local folder (``k8s.io/api => ./staging/src/k8s.io/api``) is replaced here by its published ``v0.N.P`` tag.
    """
    minor, patch = _release(version)
    staging = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", kubernetes_go_mod, re.MULTILINE)))
    go_directive = re.search(r"^go\s+(\S+)", kubernetes_go_mod, re.MULTILINE)
    lines = ["module sagemaker-operator.local/kubernetes-build", "",
             f"go {go_directive[1] if go_directive else '1.24'}", "",
             f"require k8s.io/kubernetes v{version}", "", "replace ("]
    lines += [f"\t{module} => {module} v0.{minor}.{patch}" for module in staging]
    lines += [")", ""]
    return "\n".join(lines)


# etcd's own main package is a one-liner around etcdmain.Main; this module needs its own copy of that line, since
# the etcd repository's root module (which holds it) is not a dependency of Kubernetes.
_ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""

# Imports that keep `go mod tidy` from dropping what the builds need; never compiled (build tag).
_TOOLS_GO = """//go:build tools

package tools

import (
\t_ "k8s.io/kubernetes/cmd/kube-apiserver"
\t_ "k8s.io/kubernetes/cmd/kubectl"
)
"""


def _version_ldflags(version: str) -> str:
    """-X flags that make the binaries report their versions, as Kubernetes' own build (hack/lib/version.sh) does."""
    minor, _ = _release(version)
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.gitVersion=v{version}", f"-X {package}.gitMajor=1", f"-X {package}.gitMinor={minor}",
                  f"-X {package}.gitTreeState=clean"]
    return " ".join(flags)


def _build_from_modules(version: str, target: Path, go: Path, progress: Progress) -> None:
    started = time.monotonic()
    progress(f"Kubernetes {version} not found: building kube-apiserver, kubectl and etcd once from Go modules "
             f"(about 5 minutes and 3 GB of memory on 2 cores the first time; cached in {target})")
    with tempfile.TemporaryDirectory(prefix="sagemaker-operator-k8s-module-") as workdir:
        work = Path(workdir)
        env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", "GOWORK": "off",
               "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "auto")}
        progress(f"go mod download k8s.io/kubernetes@v{version}")
        info = _run([str(go), "mod", "download", "-json", f"k8s.io/kubernetes@v{version}"], cwd=work, env=env,
                    what=f"go mod download k8s.io/kubernetes@v{version}")
        match = re.search(r'"GoMod":\s*"([^"]+)"', info)
        if match is None:
            raise BinariesNotFound(f"go mod download k8s.io/kubernetes@v{version} named no go.mod:\n{info[-2000:]}")
        (work / "go.mod").write_text(module_go_mod(version, Path(match[1]).read_text()))
        (work / "tools.go").write_text(_TOOLS_GO)
        (work / "etcd").mkdir()
        (work / "etcd" / "main.go").write_text(_ETCD_MAIN)
        _run([str(go), "mod", "tidy"], cwd=work, env=env, what="go mod tidy (resolving the Kubernetes modules)")
        etcd_version = _run([str(go), "list", "-m", "-f", "{{.Version}}", "go.etcd.io/etcd/server/v3"], cwd=work,
                            env=env, what="go list go.etcd.io/etcd/server/v3").strip().removeprefix("v")
        ldflags = _version_ldflags(version)
        for name, package in ((KUBE_APISERVER, "k8s.io/kubernetes/cmd/kube-apiserver"),
                              (KUBECTL, "k8s.io/kubernetes/cmd/kubectl"), (ETCD, "./etcd")):
            progress(f"go build {package} ({time.monotonic() - started:.0f} s so far)")
            _run([str(go), "build", "-trimpath", "-ldflags", ldflags, "-o", str(work / "out" / name), package],
                 cwd=work, env=env, what=f"go build {package}")
        for name in (KUBECTL, ETCD, KUBE_APISERVER):  # kube-apiserver last: its presence marks a complete build
            _install(work / "out" / name, target, name)
    progress(f"Kubernetes {version} (etcd {etcd_version}) built and cached in {time.monotonic() - started:.0f} s")


# ---------------------------------------------------------------------------------------------------------------
# Kubernetes 1.20 from Debian


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
    _run(_root_command(["install", "-m", "0644", draft.name, str(_DEB_SRC_FILE)]), what="writing the deb-src entry")
    os.unlink(draft.name)
    global _apt_updated
    _apt_updated = False


def _build_debian(target: Path, progress: Progress) -> None:
    started = time.monotonic()
    progress(f"Kubernetes {DEBIAN_KUBERNETES_VERSION} not found: building kube-apiserver and kubectl once from "
             "Debian's kubernetes source package (about 5-7 minutes and 1.3 GB of memory on 2 cores; cached in "
             f"{target}), with etcd from Debian's etcd-server")
    _require_apt()
    if not _executable(_DEBIAN_ETCD):
        _apt_install(["etcd-server"], progress)
    _ensure_deb_src(progress)
    _apt_install(list(_BUILD_PACKAGES), progress)
    # Debian's golang-go (1.19) by its own path: a newer Go earlier on PATH cannot build this tree (GOPATH mode,
    # linknames that Go >= 1.23 refuses).
    debian_go_bin = _DEBIAN_GO.resolve().parent
    with tempfile.TemporaryDirectory(prefix="sagemaker-operator-k8s-build-") as workdir:
        work = Path(workdir)
        progress("apt-get source kubernetes (about 30 MB)")
        _run(["apt-get", "source", "--download-only", _DEBIAN_SOURCE_PACKAGE], cwd=work,
             what="apt-get source kubernetes")
        dsc = next(work.glob("kubernetes_*.dsc"))
        _run(["dpkg-source", "--no-check", "-x", dsc.name, "src"], cwd=work, what="dpkg-source -x")
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
            "PATH": f"{debian_go_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "GOROOT": str(debian_go_bin.parent),
            "GOTOOLCHAIN": "local",
            "GOPATH": str(gopath),
            "GO111MODULE": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
            "GOCACHE": str(work / ".gocache"),
            "KUBE_GIT_VERSION": f"v{DEBIAN_KUBERNETES_VERSION}",
            "KUBE_GIT_TREE_STATE": "clean",
        }
        progress("go build of cmd/kube-apiserver and cmd/kubectl (the long step)")
        _run(["make", "WHAT=cmd/kube-apiserver cmd/kubectl"], cwd=link, env=env,
             what="make WHAT='cmd/kube-apiserver cmd/kubectl'")
        for name in (KUBECTL, KUBE_APISERVER):
            built = next((p for p in (tree / "_output").rglob(name) if _executable(p)), None)
            if built is None:
                raise BinariesNotFound(f"the build finished but produced no {name} binary")
            if name == KUBE_APISERVER:
                (target / ETCD).unlink(missing_ok=True)
                (target / ETCD).symlink_to(_DEBIAN_ETCD)
            _install(built, target, name)
    progress(f"Kubernetes {DEBIAN_KUBERNETES_VERSION} built and cached in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> None:
    """Build the binaries of each version given (default: the requested one) and print where they are.

    ``python -m sagemaker_operator.dev.binaries [VERSION ...]`` (used by scripts/bootstrap).
    """
    versions: list[str | None] = list(argv if argv is not None else sys.argv[1:]) or [None]
    for version in versions:
        binaries = ensure_binaries(version)
        print(f"Kubernetes {binaries.version or 'unknown version'}: {binaries.kube_apiserver.parent}")
        print(f"  etcd: {binaries.etcd}")
        print(f"  kube-apiserver: {binaries.kube_apiserver}")
        print(f"  kubectl: {binaries.kubectl or 'not built; kubectl on PATH is used'}")


if __name__ == "__main__":
    main()
