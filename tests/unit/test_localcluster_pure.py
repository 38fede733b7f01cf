"""Pure parts of the local cluster: certificates, kubeconfigs, binary lookup, clean-up of stale folders."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from sagemaker_operator import clusterbinaries, localcluster


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


def _fake_binary(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_kubebuilder_assets_come_first_then_path_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets, on_path, cache_home = tmp_path / "assets", tmp_path / "path", tmp_path / "cache"
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    assert clusterbinaries.find_binaries() is None

    cached = _fake_binary(cache_home / "sagemaker-operator" / "bin", "kube-apiserver")
    etcd_on_path = _fake_binary(on_path, "etcd")
    found = clusterbinaries.find_binaries()
    assert found == clusterbinaries.ClusterBinaries(etcd=etcd_on_path, kube_apiserver=cached)

    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    preferred = (_fake_binary(assets, "etcd"), _fake_binary(assets, "kube-apiserver"))
    assert clusterbinaries.find_binaries() == clusterbinaries.ClusterBinaries(*preferred)


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
