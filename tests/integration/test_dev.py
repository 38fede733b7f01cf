"""``sagemaker-operator dev`` end to end: the whole stack as a subprocess, the examples, and a clean stop.

``dev`` starts its own API server, emulator and operator as children, whatever the session's ``kube`` fixture uses,
so these tests need no fixture; they are marked ``cluster`` because they need the API server binaries.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sagemaker_operator.dev import binaries as clusterbinaries
from tests.helpers import pid_alive, wait_for

pytestmark = pytest.mark.cluster

EXAMPLE_ENDPOINTS = ("sentiment", "recommender", "summarizer", "fraud-detector", "transcriber", "churn-predictor",
                     "assistants", "search-ranker", "forecaster")
EXAMPLE_COMPONENTS = ("chat", "embeddings")
RUNNING_LINE = "running; press Ctrl-C to stop everything"
# What `dev` runs, recognised in /proc/PID/cmdline.
EXPECTED_CHILDREN = {"etcd": "etcd", "kube-apiserver": "kube-apiserver",
                     "emulator": "sagemaker_emulator", "operator": "sagemaker_operator\0run"}


@dataclass
class DevProcess:
    """``python -m sagemaker_operator dev`` with its (non-TTY) output collected line by line by a thread."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)  # end of output: the process closed stdout (exited)

    def wait_line(self, predicate: str, timeout: float) -> str:
        """The first line (from now on) that contains ``predicate``; fails at the deadline or at end of output."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {predicate!r} within {timeout:.0f} s:\n" + "\n".join(self.lines))
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"dev exited ({self.process.wait()}) before printing {predicate!r}:\n"
                                     + "\n".join(self.lines))
            self.lines.append(line)
            if predicate in line:
                return line

    def drain(self, timeout: float) -> None:
        """Collect the remaining output, until the process closes stdout."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    """``dev --examples`` with short emulator durations; killed (with its children) if the test fails early."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_operator", "dev", "--examples", "--create-seconds", "0.5",
         "--update-seconds", "0.5", "--workdir", str(tmp_path / "dev")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    dev = DevProcess(process)
    threading.Thread(target=dev._pump, daemon=True).start()
    try:
        yield dev
    finally:
        if process.poll() is None:
            process.kill()  # its children go with it: PR_SET_PDEATHSIG
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _kubectl() -> str:
    """The kubectl built with the local API server (its version), else kubectl on PATH."""
    binaries = clusterbinaries.find_binaries(clusterbinaries.requested_version())
    found = str(binaries.kubectl) if binaries and binaries.kubectl else shutil.which("kubectl")
    if found is None:
        pytest.skip("no kubectl: neither built with the local API server nor on PATH")
    return found


def _descendants(pid: int) -> dict[int, str]:
    """pid -> command line (NUL-separated) of every process below ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name (2nd field) may contain spaces: the ppid is 2nd after the last ')'.
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                try:
                    found[child] = (Path(f"/proc/{child}/cmdline").read_bytes()).decode(errors="replace")
                except OSError:
                    continue
                frontier.append(child)
    return found


def _children_by_role(pid: int) -> dict[str, int]:
    """role -> pid of the children ``dev`` must have while it runs (see EXPECTED_CHILDREN)."""
    found = {}
    for child, cmdline in _descendants(pid).items():
        for role, marker in EXPECTED_CHILDREN.items():
            if marker in cmdline:
                found[role] = child
    return found if len(found) == len(EXPECTED_CHILDREN) else {}


def test_dev_examples_become_ready_answer_and_everything_stops_on_ctrl_c(dev: DevProcess, tmp_path: Path) -> None:
    started = time.monotonic()
    dev.wait_line(RUNNING_LINE, timeout=60)
    text = "\n".join(dev.lines)
    for name in EXAMPLE_ENDPOINTS:
        assert f"endpoint default/{name}: InService, Ready" in text
    for name in EXAMPLE_COMPONENTS:
        assert f"inference component default/{name}: InService, Ready" in text
    assert "examples: 9 endpoints and 2 inference components Ready" in text
    assert "WARNING" not in text, text
    for name in ("sentiment", "summarizer", "fraud-detector", "churn-predictor", "search-ranker", "forecaster"):
        assert f"invoked {name}: variant AllTraffic answered (model {name}-" in text
    for name in EXAMPLE_COMPONENTS:
        assert f"invoked assistants, component {name}: variant main answered (model {name}-" in text
    assert "invoked transcriber asynchronously: accepted, result at s3://my-bucket/async/transcriber/output/" in text
    # The batch transform example: its input uploaded to the emulator's S3, the run complete, its output shown.
    assert "uploaded 1 input object(s) to the emulator's S3" in text
    assert "transform job churn-scores: Completed in" in text and "1 object(s) under s3://example-data/" in text
    assert "customers.csv.out: c-1001," in text, text
    # 95/5 split: either variant may answer one request.
    assert any(line.startswith("invoked recommender: variant current answered (model recommender-v1-")
               or line.startswith("invoked recommender: variant candidate answered (model recommender-v2-")
               for line in dev.lines), text
    kubeconfig = tmp_path / "dev" / "kubeconfig"
    assert f"export KUBECONFIG={kubeconfig}" in text
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in text
    assert kubeconfig.exists()

    # What a user does next: kubectl apply of an example dev applied already. kubectl merges with what dev
    # created (no "missing the kubectl.kubernetes.io/last-applied-configuration annotation" warning) and changes
    # nothing.
    kubectl = _kubectl()
    for folder in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        applied = subprocess.run([kubectl, "apply", "-f", str(folder)], capture_output=True, text=True, timeout=60,
                                 env={**os.environ, "KUBECONFIG": str(kubeconfig)}, check=False)
        assert applied.returncode == 0, applied.stderr
        assert "Warning" not in applied.stderr, applied.stderr
        assert all(line.endswith(" unchanged") for line in applied.stdout.splitlines()), applied.stdout

    children = _children_by_role(dev.process.pid)
    assert children, f"dev's children: {_descendants(dev.process.pid)}"

    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(timeout=30) == 0
    dev.drain(timeout=5)
    for role, pid in children.items():
        assert not pid_alive(pid), f"{role} (pid {pid}) outlived dev"
    assert not kubeconfig.exists(), "the kubeconfig of a stopped cluster is left behind"
    assert (tmp_path / "dev" / "operator.log").stat().st_size > 0
    assert dev.lines[-1].endswith("stopped"), dev.lines[-3:]
    print(f"dev --examples up, examples Ready and answered, stopped in {time.monotonic() - started:.1f} s")


def test_a_crashed_child_stops_the_stack_with_an_error(dev: DevProcess) -> None:
    dev.wait_line(RUNNING_LINE, timeout=60)
    children = wait_for(lambda: _children_by_role(dev.process.pid), timeout=5, what="dev's four children")

    os.kill(children["operator"], signal.SIGKILL)

    assert dev.process.wait(timeout=30) == 1
    dev.drain(timeout=5)
    assert any("the operator exited unexpectedly with code -9" in line for line in dev.lines), dev.lines
    for role, pid in children.items():
        assert not pid_alive(pid), f"{role} (pid {pid}) outlived dev"
