"""Pure parts of the local cluster: certificates, kubeconfigs, binary lookup, clean-up of stale folders."""

from __future__ import annotations

import itertools
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from sagemaker_operator.dev import binaries as clusterbinaries
from sagemaker_operator.dev import cluster as localcluster


def test_serving_certificate_is_signed_by_the_ca_and_names_loopback() -> None:
    pki = localcluster._make_pki()
    ca = x509.load_pem_x509_certificate(pki.ca_pem)
    serving = x509.load_pem_x509_certificate(pki.serving_cert_pem)
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_kubeconfig_is_private_and_complete(tmp_path: Path) -> None:
    document = localcluster.kubeconfig_document("https://127.0.0.1:6443", b"CA", "secret-token", "me", "ns1")
    path = localcluster.write_kubeconfig(tmp_path / "kubeconfig", document)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = yaml.safe_load(path.read_text())
    assert loaded["current-context"] == "sagemaker-local"
    assert loaded["contexts"][0]["context"]["namespace"] == "ns1"
    assert loaded["users"][0]["user"]["token"] == "secret-token"
    assert loaded["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"


def test_free_port_can_be_bound() -> None:
    port = localcluster.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def test_free_ports_are_never_handed_out_twice_nor_from_the_ephemeral_range() -> None:
    """Two servers of one process once got the same port (bind(0) gave it twice), and an outgoing connection can
    take a port from the ephemeral range before its server binds it."""
    ports = [localcluster.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    ephemeral = localcluster._ephemeral_ports()
    assert not [port for port in ports if port in ephemeral]
    assert min(ports) >= localcluster._LOWEST_PICKED_PORT


def test_free_port_skips_a_port_something_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        draws = itertools.chain([taken], range(20000, 30000))
        monkeypatch.setattr(localcluster._PORT_DRAW, "choice", lambda _candidates: next(draws))
        monkeypatch.setattr(localcluster, "_ephemeral_ports", lambda: range(65535, 65536))
        monkeypatch.setattr(localcluster, "_HANDED_OUT", set())
        assert localcluster.free_port() != taken


def test_free_port_falls_back_to_the_kernel_when_the_ephemeral_range_starts_low(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text("1024\t65535\n")
    monkeypatch.setattr(localcluster, "_EPHEMERAL_RANGE_FILE", str(range_file))
    assert localcluster._ephemeral_ports() == range(1024, 65536)
    port = localcluster.free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))


def _fake_binary(folder: Path, name: str, version: str = "1.37.2") -> Path:
    """An executable that answers --version like kube-apiserver does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho 'Kubernetes v{version}'\n")
    path.chmod(0o755)
    return path


def test_kubebuilder_assets_come_first_then_path_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets, on_path, cache_home = tmp_path / "assets", tmp_path / "path", tmp_path / "cache"
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    assert clusterbinaries.find_binaries() is None

    cached = cache_home / "sagemaker-operator" / "bin" / f"v{clusterbinaries.DEFAULT_KUBERNETES_VERSION}"
    in_cache = clusterbinaries.ClusterBinaries(
        _fake_binary(cached, "etcd"), _fake_binary(cached, "kube-apiserver"), _fake_binary(cached, "kubectl"),
        clusterbinaries.DEFAULT_KUBERNETES_VERSION)
    assert clusterbinaries.find_binaries() == in_cache

    # Both programs on PATH win over the cache, with the version kube-apiserver reports.
    etcd_on_path, apiserver_on_path = _fake_binary(on_path, "etcd"), _fake_binary(on_path, "kube-apiserver", "1.33.1")
    assert clusterbinaries.find_binaries() == clusterbinaries.ClusterBinaries(
        etcd_on_path, apiserver_on_path, None, "1.33.1")
    # ... unless another version was asked for.
    assert clusterbinaries.find_binaries("1.37") == in_cache
    assert clusterbinaries.find_binaries("1.33.1") == clusterbinaries.ClusterBinaries(
        etcd_on_path, apiserver_on_path, None, "1.33.1")

    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    preferred = (_fake_binary(assets, "etcd"), _fake_binary(assets, "kube-apiserver", "1.20.2"))
    assert clusterbinaries.find_binaries() == clusterbinaries.ClusterBinaries(*preferred, None, "1.20.2")


@pytest.mark.parametrize(("requested", "resolved"), [
    (None, clusterbinaries.DEFAULT_KUBERNETES_VERSION),
    ("1.20", "1.20.2"), ("v1.20.5", "1.20.2"), ("1.37", clusterbinaries.DEFAULT_KUBERNETES_VERSION),
    ("1.34.4", "1.34.4"), ("v1.33.0", "1.33.0"),
])
def test_versions_resolve_to_a_release(requested: str | None, resolved: str) -> None:
    assert clusterbinaries.resolve_version(requested) == resolved


@pytest.mark.parametrize(("requested", "words"), [
    ("latest", "1.MINOR"), ("2.0", "1.MINOR"), ("1.31", "patch release"), ("1.24.3", "1.20"),
])
def test_unbuildable_versions_are_refused_saying_what_works(requested: str, words: str) -> None:
    with pytest.raises(clusterbinaries.BinariesNotFound, match=words):
        clusterbinaries.resolve_version(requested)


def test_the_build_module_replaces_every_staging_module_by_its_tag() -> None:
    upstream = "\n".join([
        "module k8s.io/kubernetes", "", "go 1.26.0", "", "require (", "\tk8s.io/api v0.0.0", ")", "", "replace (",
        "\tk8s.io/api => ./staging/src/k8s.io/api", "\tk8s.io/client-go => ./staging/src/k8s.io/client-go",
        "\tgithub.com/other/module => github.com/other/module v1.2.3", ")"])
    built = clusterbinaries.module_go_mod("1.37.2", upstream)
    assert "go 1.26.0" in built
    assert "require k8s.io/kubernetes v1.37.2" in built
    assert "\tk8s.io/api => k8s.io/api v0.37.2" in built
    assert "\tk8s.io/client-go => k8s.io/client-go v0.37.2" in built
    assert "github.com/other" not in built


def test_stale_workdirs_of_dead_owners_are_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f"{localcluster._WORKDIR_PREFIX}stale"
    live = tmp_path / f"{localcluster._WORKDIR_PREFIX}live"
    for folder, pid in ((stale, dead.stdout.strip()), (live, str(os.getpid()))):
        folder.mkdir()
        (folder / localcluster._OWNER_FILE).write_text(pid)
    localcluster._sweep_stale_workdirs(tmp_path)
    assert not stale.exists()
    assert live.exists()
