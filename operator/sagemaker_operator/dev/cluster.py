"""A real Kubernetes API server (etcd + kube-apiserver) on loopback, for `sagemaker-operator dev` and the tests.

The server is the real one, not a mock: CRD v1 structural schemas, the status subresource, finalizers, RBAC and
token authentication all behave as on any cluster. What it lacks is everything outside the API server: there is
no controller manager (so no namespace finalization, no garbage collector, no service-account token secrets) and
no scheduler or kubelet (so no pods run). The operator needs none of those.

Every process started here dies with its parent: each child gets PR_SET_PDEATHSIG, so even a SIGKILL of the
Python process takes etcd and kube-apiserver with it. Ports are picked free, so several clusters can share a
machine.
"""

from __future__ import annotations

import base64
import ctypes
import datetime
import ipaddress
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sagemaker_operator.dev.binaries import ClusterBinaries, ensure_binaries

ADMIN_USER = "sagemaker-operator-admin"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_PR_SET_PDEATHSIG = 1
_START_ATTEMPTS = 3
_WORKDIR_PREFIX = "sagemaker-local-cluster-"
_OWNER_FILE = "owner.pid"
_EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
# Below this lie the ports well-known servers default to (etcd 2379, the API server 6443, 8080, 9090 ...).
_LOWEST_PICKED_PORT = 15000
_PORT_DRAW = random.SystemRandom()
_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


class LocalClusterError(RuntimeError):
    """The local API server could not be started."""


def _ephemeral_ports() -> range:
    """The ports the kernel hands to outgoing connections and to bind(0) (Linux's default if it cannot be read)."""
    try:
        low, high = (int(value) for value in Path(_EPHEMERAL_RANGE_FILE).read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def _bindable(port: int) -> bool:
    """Whether a listener could bind ``port`` on every address now (the operator's probes listen on 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port that nothing listens on right now and that this process has not handed out before.

    The port is only reserved once its server binds it, some time later. Two things can take it in between: the
    kernel can give the same port to the next bind(0) (it did: an operator's liveness and metrics servers got one
    port), or to an outgoing connection. So ports are drawn at random from below the kernel's ephemeral range,
    which neither of those ever uses, and none is handed out twice.
    """
    ephemeral = _ephemeral_ports()
    candidates = range(_LOWEST_PICKED_PORT, ephemeral.start)
    with _HANDED_OUT_LOCK:
        for _ in range(200):
            port = _PORT_DRAW.choice(candidates) if len(candidates) > 1000 else _kernel_port()
            if port not in _HANDED_OUT and _bindable(port):
                _HANDED_OUT.add(port)
                return port
    raise LocalClusterError("found no free TCP port after 200 tries")


def _kernel_port() -> int:
    """A port from bind(0): the fallback when the ephemeral range leaves too few ports below it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent(signal_number: int) -> Callable[[], None]:
    """What the child runs before exec: ask the kernel to send it ``signal_number`` when the parent thread dies."""
    def arrange() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
    return arrange


def start_child(args: list[str], log_path: Path, env: dict[str, str] | None = None,
                death_signal: int = signal.SIGTERM) -> subprocess.Popen[bytes]:
    """Start a helper process that cannot outlive this one, with its output in ``log_path``.

    The child runs in its own session so that a Ctrl-C on the terminal reaches only the parent, which then
    stops its children in order (kube-apiserver before etcd). The kernel sends ``death_signal`` to the child when
    the *thread* that started it exits: start long-lived children from a long-lived thread (the main one).
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True, preexec_fn=_die_with_parent(death_signal))


def stop_child(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaps the process."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def _log_tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except FileNotFoundError:
        return ""


def _sweep_stale_workdirs(base: Path) -> None:
    """Remove folders of local clusters whose owner process is gone (killed before it could clean up)."""
    for candidate in base.glob(f"{_WORKDIR_PREFIX}*"):
        try:
            owner = int((candidate / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            shutil.rmtree(candidate, ignore_errors=True)


@dataclass(frozen=True)
class _Pki:
    ca_pem: bytes
    serving_cert_pem: bytes
    serving_key_pem: bytes
    sa_private_pem: bytes
    sa_public_pem: bytes


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _make_pki() -> _Pki:
    """A throw-away CA, a serving certificate for 127.0.0.1/localhost and the service-account signing key."""
    now = datetime.datetime.now(datetime.UTC)
    validity = datetime.timedelta(days=365)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sagemaker-operator-local-ca")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    serving_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(serving_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + validity)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _Pki(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        serving_cert_pem=serving_cert.public_bytes(serialization.Encoding.PEM),
        serving_key_pem=_pem_key(serving_key),
        sa_private_pem=_pem_key(sa_key),
        sa_public_pem=sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def kubeconfig_document(server: str, ca_pem: bytes, token: str, user: str, namespace: str = "default"
                        ) -> dict[str, object]:
    """A kubeconfig with one cluster, one token user and one context named ``sagemaker-local``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sagemaker-local", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "sagemaker-local", "context": {
            "cluster": "sagemaker-local", "user": user, "namespace": namespace}}],
        "current-context": "sagemaker-local",
    }


def write_kubeconfig(path: Path, document: dict[str, object]) -> Path:
    """Write a kubeconfig readable by its owner only (it holds a bearer token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(document, handle, sort_keys=False)
    return path


# Metadata (user, User-Agent, object, verb, times, response code) of every write; nothing of reads.
_AUDIT_WRITES_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"""


@dataclass
class LocalCluster:
    """etcd + kube-apiserver on free loopback ports, with RBAC and token authentication.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. The admin kubeconfig (a user in
    ``system:masters``) is at :attr:`kubeconfig_path` once started.
    """

    workdir: Path | None = None
    binaries: ClusterBinaries | None = None
    kubernetes_version: str | None = None  # None: $SAGEMAKER_OPERATOR_KUBERNETES_VERSION, else the default
    startup_timeout: float = 60.0
    # Write an audit log of every write request (who, with which User-Agent, what, when) to audit_log_path: for
    # tests that must prove which process wrote (leader election).
    audit_writes: bool = False
    server: str = field(default="", init=False)
    kubeconfig_path: Path = field(default=Path(), init=False)
    ca_pem: bytes = field(default=b"", init=False)
    admin_token: str = field(default="", init=False)
    _etcd: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _apiserver: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _owns_workdir: bool = field(default=False, init=False, repr=False)
    _apiserver_port: int = field(default=0, init=False, repr=False)
    _etcd_url: str = field(default="", init=False, repr=False)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def version(self) -> str:
        """The Kubernetes version of the running server (``1.37.2``); "" before :meth:`start`."""
        return self.binaries.version if self.binaries else ""

    @property
    def pids(self) -> list[int]:
        """Process ids of the running etcd and kube-apiserver."""
        return [p.pid for p in (self._etcd, self._apiserver) if p is not None and p.poll() is None]

    def start(self) -> None:
        """Start etcd and kube-apiserver and wait until the API server is ready and has its default namespace."""
        if self.binaries is None:
            self.binaries = ensure_binaries(self.kubernetes_version)
        if self.workdir is None:
            # etcd fsyncs on every write; on tmpfs that costs nothing, which matters for benchmarks.
            shm = Path("/dev/shm")
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
            _sweep_stale_workdirs(base)
            self.workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=base))
            self._owns_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / _OWNER_FILE).write_text(str(os.getpid()))
        self._write_credentials()
        last_error: LocalClusterError | None = None
        for _ in range(_START_ATTEMPTS):
            try:
                self._start_etcd()
                self.start_apiserver()
                return
            except LocalClusterError as error:
                # Most often a port taken between picking it and binding it: try again with fresh ones.
                last_error = error
                self._stop_processes()
        self.stop()
        raise last_error or LocalClusterError("the local API server did not start")

    def _write_credentials(self) -> None:
        assert self.workdir is not None
        pki = _make_pki()
        self.ca_pem = pki.ca_pem
        files = {
            "ca.crt": pki.ca_pem, "apiserver.crt": pki.serving_cert_pem, "apiserver.key": pki.serving_key_pem,
            "sa.key": pki.sa_private_pem, "sa.pub": pki.sa_public_pem,
        }
        for name, content in files.items():
            path = self.workdir / name
            path.write_bytes(content)
            path.chmod(0o600)
        self.admin_token = secrets.token_urlsafe(32)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        tokens.chmod(0o600)

    def _start_etcd(self) -> None:
        assert self.workdir is not None and self.binaries is not None
        client_port, peer_port = free_port(), free_port()
        self._etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        data_dir = self.workdir / "etcd-data"
        self._etcd = start_child([
            str(self.binaries.etcd), "--name", "default", "--data-dir", str(data_dir),
            "--listen-client-urls", self._etcd_url, "--advertise-client-urls", self._etcd_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}", "--log-level", "warn", "--logger", "zap",
        ], self.workdir / "etcd.log")

    def start_apiserver(self) -> None:
        """Start kube-apiserver (again) against the running etcd; keeps its port across restarts."""
        assert self.workdir is not None and self.binaries is not None
        if not self._apiserver_port:
            self._apiserver_port = free_port()
        port = self._apiserver_port
        self.server = f"https://127.0.0.1:{port}"
        w = self.workdir
        audit: list[str] = []
        if self.audit_writes:
            policy = w / "audit-policy.yaml"
            policy.write_text(_AUDIT_WRITES_POLICY)
            audit = [f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_log_path}",
                     "--audit-log-format=json"]
        self._apiserver = start_child([
            str(self.binaries.kube_apiserver), *audit,
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
            # The insecure port was off by default from 1.20 and the flag went away in 1.24.
            *(["--insecure-port=0"] if 0 < self.binaries.minor < 24 else []),
            # Nothing routes to the `kubernetes` Service here, and newer servers refuse to advertise a loopback
            # address through it.
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={w / 'apiserver.crt'}", f"--tls-private-key-file={w / 'apiserver.key'}",
            f"--client-ca-file={w / 'ca.crt'}",
            f"--token-auth-file={w / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={w / 'sa.pub'}",
            f"--service-account-signing-key-file={w / 'sa.key'}",
            f"--api-audiences={SERVICE_ACCOUNT_ISSUER}",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--cert-dir={w / 'certs'}",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=0",
        ], w / "kube-apiserver.log",
            # Orphaned, a modern kube-apiserver's graceful shutdown on SIGTERM waits for the etcd that is going away
            # with it and never ends (1.37 hung for minutes; 1.20 exited): nothing is left to shut down gracefully
            # for, so the kernel kills it. Normal stops still send SIGTERM first (stop_child).
            death_signal=signal.SIGKILL)
        self._wait_ready()
        self.kubeconfig_path = write_kubeconfig(
            w / "kubeconfig", kubeconfig_document(self.server, self.ca_pem, self.admin_token, ADMIN_USER))

    @property
    def audit_log_path(self) -> Path:
        """The audit log (JSON lines) when ``audit_writes`` is set."""
        assert self.workdir is not None
        return self.workdir / "audit.log"

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver only (etcd keeps the data), e.g. to test how the operator rides out a restart."""
        if self._apiserver is not None:
            stop_child(self._apiserver)
            self._apiserver = None

    def _wait_ready(self) -> None:
        assert self.workdir is not None and self._apiserver is not None and self._etcd is not None
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        # /readyz turns 200 before the API server's system-namespaces controller has created the "default"
        # namespace on a fresh etcd; callers create objects there right away, so wait for both.
        pending = [f"{self.server}/readyz", f"{self.server}/api/v1/namespaces/default"]
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for name, process in (("etcd", self._etcd), ("kube-apiserver", self._apiserver)):
                if process.poll() is not None:
                    raise LocalClusterError(
                        f"{name} exited with code {process.returncode}:\n{_log_tail(self.workdir / f'{name}.log')}")
            request = urllib.request.Request(pending[0], headers={"Authorization": f"Bearer {self.admin_token}"})
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as response:
                    if response.status == 200:
                        pending.pop(0)
                        if not pending:
                            return
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
                pass
            time.sleep(0.1)  # polling a readiness endpoint: there is nothing to wait on instead
        raise LocalClusterError(f"kube-apiserver was not ready within {self.startup_timeout:.0f} s "
                                f"(waiting for {pending[0].removeprefix(self.server)}):\n"
                                f"{_log_tail(self.workdir / 'kube-apiserver.log')}")

    def _stop_processes(self) -> None:
        self.stop_apiserver()
        if self._etcd is not None:
            stop_child(self._etcd)
            self._etcd = None
        self._apiserver_port = 0

    def stop(self) -> None:
        """Stop both processes and remove the working folder if this object made it."""
        self._stop_processes()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._owns_workdir = False

