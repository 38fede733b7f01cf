"""The processes of one benchmark run: the local API server, the emulator, the operator (and py-spy), and what is
read from them without disturbing them: /proc counters, the operator's Prometheus metrics, the emulator's counters.

Every process is started with :func:`sagemaker_operator.dev.cluster.start_child` (PR_SET_PDEATHSIG), so none can
outlive the harness, and :class:`Stack` stops them all in reverse order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sagemaker_emulator.admin import AdminClient
from sagemaker_operator.dev.cluster import LocalCluster, free_port, start_child, stop_child

REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def aws_env(emulator_url: str) -> dict[str, str]:
    """Environment that points every AWS client at the emulator."""
    return {"AWS_ENDPOINT_URL": emulator_url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``), in seconds; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` value in kB (``VmHWM``: peak RSS, ``VmRSS``: current RSS); 0 if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def scrape_metrics(port: int, names: tuple[str, ...]) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples of the named metrics from a Prometheus text endpoint: name -> {sorted label pairs -> value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    result: dict[str, dict[tuple[tuple[str, str], ...], float]] = {name: {} for name in names}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        if name in result:
            result[name][tuple(sorted(_LABEL.findall(labels)))] = float(value)
    return result


def wait_until(probe: Any, *, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Call ``probe`` until it returns something truthy; raise TimeoutError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class OperatorProcess:
    """One ``sagemaker-operator run`` process and its ports."""

    process: subprocess.Popen[bytes]
    metrics_port: int
    liveness_port: int
    log_path: Path
    started: float
    lease_id: str

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.process.pid

    def healthy(self) -> bool:
        """True once ``/healthz`` answers 200 (raises if the process exited)."""
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the operator exited with {self.process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def gauge(self, name: str) -> float | None:
        """The value of an unlabelled gauge of the operator now; None if it does not answer."""
        try:
            samples = scrape_metrics(self.metrics_port, (name,))[name]
        except OSError:
            return None
        return samples.get((), None)

    def leads(self) -> bool:
        """Whether it leads now (its ``sagemaker_operator_leader`` gauge; the probe payload is refreshed too rarely
        to time a hand-over with)."""
        return self.process.poll() is None and self.gauge("sagemaker_operator_leader") == 1

    def standing_by(self) -> bool:
        """Whether it has joined the election as a standby (its caches are filled) and does not lead."""
        return "is standing by for lease" in self.log_path.read_text(errors="replace") and not self.leads()

    def _counter(self, name: str, first: str, second: str) -> dict[str, float]:
        """A labelled counter of the operator now, keyed ``<first label>/<second label>``."""
        samples = scrape_metrics(self.metrics_port, (name,))[name]
        return {f"{dict(k)[first]}/{dict(k)[second]}": v for k, v in samples.items()}

    def kube_writes(self) -> dict[str, float]:
        """Kubernetes writes so far, keyed ``Kind/what`` (from ``sagemaker_operator_kubernetes_writes_total``)."""
        return self._counter("sagemaker_operator_kubernetes_writes_total", "kind", "what")

    def reconciles(self) -> dict[str, float]:
        """Reconcile passes so far, keyed ``Kind/result`` (from ``sagemaker_operator_reconciles_total``)."""
        return self._counter("sagemaker_operator_reconciles_total", "kind", "result")

    def aws_calls(self) -> dict[str, float]:
        """AWS calls so far as the operator counts them, keyed ``Operation/outcome``."""
        return self._counter("sagemaker_operator_aws_calls_total", "operation", "outcome")


@dataclass
class Stack:
    """API server + emulator (+ operator) for one run; a context manager that stops everything on exit."""

    workdir: Path
    create_seconds: float
    update_seconds: float
    latency_ms: float
    cluster: LocalCluster = field(init=False)
    emulator: subprocess.Popen[bytes] | None = field(default=None, init=False)
    emulator_url: str = field(default="", init=False)
    admin: AdminClient = field(init=False)
    operator: OperatorProcess | None = field(default=None, init=False)
    # Every operator started, the current one included: standbys are stopped with the stack too.
    operators: list[OperatorProcess] = field(default_factory=list, init=False)
    _children: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)

    def __enter__(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.cluster = LocalCluster()
            self.cluster.start()
            self._start_emulator()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _start_emulator(self) -> None:
        log = self.workdir / "emulator.log"
        log.write_text("")
        args = [sys.executable, "-m", "sagemaker_emulator", "--port", "0",
                "--create-seconds", str(self.create_seconds), "--update-seconds", str(self.update_seconds),
                "--delete-seconds", "1"]
        self.emulator = start_child(args, log, env={**os.environ, "PYTHONUNBUFFERED": "1"})

        def url() -> str | None:
            if self.emulator is not None and self.emulator.poll() is not None:
                raise RuntimeError(f"the emulator exited: {log.read_text(errors='replace')[-2000:]}")
            found = re.search(r"sagemaker-emulator listening on (http://\S+)", log.read_text(errors="replace"))
            return found.group(1) if found else None

        self.emulator_url = wait_until(url, timeout=30, what="the emulator to listen")
        self.admin = AdminClient(self.emulator_url)
        if self.latency_ms > 0:
            self.admin.set_fault(operation="*", latency_ms=self.latency_ms)

    def start_operator(self, namespace: str, args: list[str], log_name: str, *, lease_id: str | None = None,
                       standby: bool = False, wait: bool = True) -> OperatorProcess:
        """Start ``sagemaker-operator run`` on ``namespace`` with extra ``args``; wait until it is live.

        By default on a lease of its own: the restart after a SIGKILL measures a restart, not the wait for the
        killed process's lease to expire. ``lease_id`` joins another operator's election; a ``standby`` does not
        become :attr:`operator` (the one the phases measure) until :meth:`promote`.
        """
        metrics, liveness = free_port(), free_port()
        log = self.workdir / log_name
        env = {**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig_path), **aws_env(self.emulator_url)}
        lease_id = lease_id or f"bench-{uuid.uuid4().hex[:10]}"
        command = [sys.executable, "-m", "sagemaker_operator", "run", "--namespace", namespace,
                   "--metrics-port", str(metrics), "--liveness-port", str(liveness),
                   f"--leader-election-id={lease_id}", f"--leader-election-namespace={namespace}", *args]
        started = time.time()
        process = start_child(command, log, env=env)
        operator = OperatorProcess(process, metrics, liveness, log, started, lease_id)
        self.operators.append(operator)
        if not standby:
            self.operator = operator
        if wait:
            wait_until(operator.healthy, timeout=60, what="the operator's /healthz")
        return operator

    def promote(self, operator: OperatorProcess) -> None:
        """Make ``operator`` (a standby that now leads) the one the phases measure."""
        self.operator = operator

    def kill_operator(self) -> None:
        """SIGKILL the operator (a crash or an evicted pod) and reap it."""
        if self.operator is not None:
            self.operator.process.kill()
            self.operator.process.wait()
            self.operator = None

    def start_profiler(self, pid: int, out: Path) -> subprocess.Popen[bytes]:
        """``py-spy record`` on ``pid`` (samples holding the GIL: a CPU profile), collapsed stacks, until stopped."""
        py_spy = Path(sys.executable).with_name("py-spy")
        args = [str(py_spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "50", "--nonblocking", "--gil",
                "--output", str(out)]
        process = start_child(args, out.with_suffix(".log"))
        self._children.append(process)
        return process

    @staticmethod
    def stop_profiler(process: subprocess.Popen[bytes]) -> None:
        """Stop py-spy with SIGINT so that it writes its output, then reap it."""
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_child(process)
        process.wait()

    def pids(self) -> dict[str, int]:
        """Process ids of the stack's long-lived processes."""
        pids = dict(zip(("etcd", "kube-apiserver"), self.cluster.pids, strict=False))
        if self.emulator is not None:
            pids["emulator"] = self.emulator.pid
        if self.operator is not None:
            pids["operator"] = self.operator.pid
        return pids

    def close(self) -> None:
        """Stop the profiler(s), the operator, the emulator, then the API server; every process is reaped."""
        for child in self._children:
            self.stop_profiler(child)
        self._children.clear()
        for operator in self.operators:
            stop_child(operator.process)
        self.operators.clear()
        self.operator = None
        if self.emulator is not None:
            stop_child(self.emulator)
            self.emulator = None
        cluster = getattr(self, "cluster", None)
        if cluster is not None:
            cluster.stop()
