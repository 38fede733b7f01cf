"""``sagemaker-operator dev``: the whole local stack in one command, for trying the operator and developing it.

What runs, each as a child process that dies with this one (``PR_SET_PDEATHSIG``, see :mod:`.cluster`):

1. a Kubernetes API server (etcd + kube-apiserver on loopback, fresh and empty on every run), unless
   ``--kubeconfig`` names a cluster. ``KUBECONFIG`` alone is deliberately ignored: a new user's stray variable
   must not make ``dev`` install CRDs and run an operator against their production cluster by surprise;
2. the SageMaker emulator (``python -m sagemaker_emulator``, a separate package that is only ever run, never
   imported here), unless ``--aws`` asks for the real service with the user's own credentials;
3. the CRDs, created or replaced from the generated documents (:func:`sagemaker_operator.api.crds.crd`);
4. the operator (``python -m sagemaker_operator run``) with fast polling, its log in the work folder.

Then, with ``--examples``, the manifests of ``examples/`` are applied, every endpoint and inference component is
waited for, and each endpoint is invoked once: once per inference component on endpoints that host components, with
InvokeEndpointAsync on asynchronous endpoints, as the endpoint's ``assumeRoleArn`` on cross-account ones. The stack
runs until SIGINT/SIGTERM and stops in reverse order; a child that exits on its own stops the stack with an error.

The processes are here; what is shown is in :mod:`.console` (plain lines for pipes, logs and tests, or a live table
on a terminal), and the examples in :mod:`.examples`.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from sagemaker_operator.dev import DEFAULT_REGION, EMULATOR_CREDENTIALS, DevError
from sagemaker_operator.dev.binaries import cache_dir
from sagemaker_operator.dev.cluster import LocalCluster, free_port, start_child, stop_child
from sagemaker_operator.dev.console import Output, StackInfo, make_output
from sagemaker_operator.dev.examples import EXAMPLES_DIR, ExampleRun

# The emulator answers in milliseconds and moves endpoints along in seconds: poll it often. (Against AWS the
# operator's defaults, 5 s doubling to 60 s, are right: creating an endpoint there takes minutes.)
EMULATOR_POLLING = ("--poll-initial-seconds", "0.5", "--poll-max-seconds", "5")
EMULATOR_LISTENING = "sagemaker-emulator listening on "
STARTUP_TIMEOUT = 60.0
# Variables that would send the operator's AWS calls somewhere else than the emulator, or make botocore look for
# a profile the user has but the emulator does not need (a missing profile is an error even with the keys above).
_AWS_VARIABLES_TO_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                          "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONFIG_FILE",
                          "AWS_SHARED_CREDENTIALS_FILE")


class ChildExited(DevError):
    """A child process (API server, emulator, operator) exited while the stack was running."""

    def __init__(self, name: str, returncode: int | None, log_path: Path | None) -> None:
        self.name, self.returncode, self.log_path = name, returncode, log_path
        code = "unknown code" if returncode is None else f"code {returncode}"
        where = f"; its log: {log_path}" if log_path else ""
        super().__init__(f"{name} exited unexpectedly with {code}{where}")


@dataclass(frozen=True)
class DevOptions:
    """What ``sagemaker-operator dev`` was asked for (the command-line flags)."""

    kubeconfig: Path | None = None
    aws: bool = False
    region: str | None = None
    examples: bool = False
    create_seconds: float = 3.0
    update_seconds: float = 3.0
    workdir: Path | None = None
    examples_dir: Path = EXAMPLES_DIR
    kubernetes_version: str | None = None  # of the local API server; None: the environment's, else the default

    @property
    def effective_workdir(self) -> Path:
        """``--workdir``, or ``~/.cache/sagemaker-operator/dev`` (``$XDG_CACHE_HOME`` is honoured)."""
        return self.workdir or cache_dir().parent / "dev"


def dev_cluster_id() -> str:
    """The operator's ``--cluster-id`` in dev: per user and machine.

    It goes into the ownership tags of the AWS resources the operator creates; with ``--aws``, a distinct id keeps
    this operator off resources that a production operator (cluster id ``default``) or a colleague's ``dev`` owns.
    """
    raw = f"dev-{getpass.getuser()}-{socket.gethostname()}"
    return re.sub(r"[^A-Za-z0-9_.:/=+\-@]", "-", raw)[:128]


def emulator_env(url: str, region: str) -> dict[str, str]:
    """This process's environment with every AWS client pointed at the emulator, with dummy credentials."""
    env = {key: value for key, value in os.environ.items()
           if key not in _AWS_VARIABLES_TO_DROP and not key.startswith("AWS_ENDPOINT_URL_")}
    env.update(EMULATOR_CREDENTIALS)
    env.update({"AWS_ENDPOINT_URL": url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def operator_command(kubeconfig: Path, *, liveness_port: int, metrics_port: int, region: str | None,
                     emulator: bool) -> list[str]:
    """``python -m sagemaker_operator run ...`` as ``dev`` runs it."""
    args = [sys.executable, "-m", "sagemaker_operator", "run", "--kubeconfig", str(kubeconfig),
            "--liveness-port", str(liveness_port), "--metrics-port", str(metrics_port),
            "--cluster-id", dev_cluster_id()]
    if region:
        args += ["--region", region]
    if emulator:
        args += list(EMULATOR_POLLING)
    return args


def emulator_url_from_log(text: str) -> str | None:
    """The URL of the emulator's ``sagemaker-emulator listening on URL`` line, if it was written yet."""
    for line in text.splitlines():
        if line.startswith(EMULATOR_LISTENING):
            return line[len(EMULATOR_LISTENING):].strip()
    return None


def _log_tail(path: Path | None, limit: int = 2000) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def wait_for_exit(pids: Sequence[int], timeout: float | None) -> None:
    """Block until one of ``pids`` exits or ``timeout`` passes (Ctrl-C interrupts it).

    pidfds make this an event wait rather than polling; where they are missing (old kernels), it waits out the
    timeout (at most a second) so callers still notice exits promptly.
    """
    fds: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # already gone: the caller sees it on return
                fds.append(os.pidfd_open(pid))
        if len(fds) < len(pids):
            return
        select.select(fds, [], [], timeout)
    except (AttributeError, OSError):
        time.sleep(min(timeout or 1.0, 1.0))
    finally:
        for fd in fds:
            os.close(fd)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------------------------------
# The stack


@dataclass
class DevStack:
    """The running stack: start it, optionally run the examples, wait, stop it (always, in reverse order)."""

    options: DevOptions
    out: Output
    cluster: LocalCluster | None = field(default=None, init=False)
    emulator: subprocess.Popen[bytes] | None = field(default=None, init=False)
    operator: subprocess.Popen[bytes] | None = field(default=None, init=False)
    emulator_url: str | None = field(default=None, init=False)
    kubeconfig: Path = field(default=Path(), init=False)
    namespace: str = field(default="default", init=False)
    _cluster_pids: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _lock: IO[str] | None = field(default=None, init=False, repr=False)
    _api: Any = field(default=None, init=False, repr=False)

    @property
    def workdir(self) -> Path:
        """Where logs and the kubeconfig go."""
        return self.options.effective_workdir

    @property
    def region(self) -> str | None:
        """The region the operator uses: ``--region``, else us-east-1 on the emulator, else AWS's configuration."""
        return self.options.region or (None if self.options.aws else DEFAULT_REGION)

    @property
    def operator_log(self) -> Path:
        """The operator's log file."""
        return self.workdir / "operator.log"

    @property
    def emulator_log(self) -> Path:
        """The emulator's output."""
        return self.workdir / "emulator.log"

    # -- starting --------------------------------------------------------------------------------------------

    def start(self) -> StackInfo:
        """Start everything, in order. On failure it raises; :meth:`stop` then stops whatever did start."""
        self._lock_workdir()
        if self.options.aws:
            self._check_aws()  # first: nothing else is worth starting without working credentials
        if self.options.kubeconfig is None:
            self.out.step("starting the local Kubernetes API server (etcd + kube-apiserver)")
            self.cluster = LocalCluster(startup_timeout=STARTUP_TIMEOUT,
                                        kubernetes_version=self.options.kubernetes_version)
            self.cluster.start()
            # LocalCluster.pids lists etcd, then kube-apiserver, while they run: remember them to notice a crash.
            self._cluster_pids = dict(zip(("etcd", "kube-apiserver"), self.cluster.pids, strict=True))
            # A stable path, so that `export KUBECONFIG=...` in another terminal survives restarts of `dev`.
            self.kubeconfig = self.workdir / "kubeconfig"
            shutil.copyfile(self.cluster.kubeconfig_path, self.kubeconfig)
            self.kubeconfig.chmod(0o600)
            api_server = self.cluster.server
        else:
            self.kubeconfig = self.options.kubeconfig
            api_server, self.namespace = self._external_cluster()
        self._api = self._client()
        if not self.options.aws:
            self._start_emulator()
        self.out.step("installing the CRDs" + (" and the finalizer policy" if self.cluster is not None else ""))
        self._install_crds()
        self._start_operator()
        return StackInfo(api_server=api_server, kubeconfig=self.kubeconfig, local_cluster=self.cluster is not None,
                         kubernetes_version=self.cluster.version if self.cluster else "",
                         namespace=self.namespace, emulator_url=self.emulator_url, region=self.region,
                         operator_log=self.operator_log, emulator_log=None if self.options.aws else self.emulator_log,
                         examples_dir=self.options.examples_dir, kubectl_found=shutil.which("kubectl") is not None)

    def _lock_workdir(self) -> None:
        """One ``dev`` per work folder: a second one would overwrite the first one's kubeconfig and logs."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.workdir / ".lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise DevError(f"another `sagemaker-operator dev` is running with {self.workdir}; stop it, or give "
                           f"this one its own --workdir") from None

    def _external_cluster(self) -> tuple[str, str]:
        import kubernetes

        _, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig))
        namespace = (active or {}).get("context", {}).get("namespace") or "default"
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=configuration)
        self.out.warn(f"using the cluster of {self.kubeconfig} ({configuration.host}): the CRDs are installed "
                      f"or replaced there, and this operator reconciles SageMaker objects in every namespace")
        return str(configuration.host), str(namespace)

    def _client(self) -> Any:
        import kubernetes

        return kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig))

    def _check_aws(self) -> None:
        """Fail early without credentials, and say which account will be billed."""
        import boto3

        session = boto3.session.Session(region_name=self.region)
        if session.get_credentials() is None:
            raise DevError("--aws: no AWS credentials found (environment, ~/.aws, SSO...); configure them first")
        try:
            account = session.client("sts").get_caller_identity()["Account"]
        except Exception as error:  # any failure here is the user's configuration; name it and stop
            raise DevError(f"--aws: the AWS credentials do not work: {error}") from error
        self.out.warn(f"--aws: the operator creates REAL SageMaker resources in account {account}, region "
                      f"{session.region_name or '(none configured)'}, and they cost money. They stay in AWS when "
                      f"dev stops: delete the objects first (kubectl delete sagemaker --all) while dev still runs.")

    def _start_emulator(self) -> None:
        self.out.step("starting the SageMaker emulator")
        self.emulator_log.write_bytes(b"")  # each run's log starts empty, and the URL line must be this run's
        args = [sys.executable, "-m", "sagemaker_emulator", "--port", "0", "--region", self.region or DEFAULT_REGION,
                "--create-seconds", str(self.options.create_seconds),
                "--update-seconds", str(self.options.update_seconds)]
        self.emulator = start_child(args, self.emulator_log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (url := emulator_url_from_log(_log_tail(self.emulator_log, 100_000))) is None:
            if self.emulator.poll() is not None:
                raise ChildExited("the emulator", self.emulator.returncode, self.emulator_log)
            if time.monotonic() > deadline:
                raise DevError(f"the emulator did not report its URL within {STARTUP_TIMEOUT:.0f} s; see "
                               f"{self.emulator_log}")
            wait_for_exit([self.emulator.pid], 0.05)  # its output goes to a file: nothing to block on but exit
        self.emulator_url = url

    def _install_crds(self) -> None:
        """Create or replace each CRD from the generated documents, then wait until each is Established."""
        from sagemaker_operator.api.admission import install_finalizer_policy
        from sagemaker_operator.api.crds import crd
        from sagemaker_operator.api.install import install_crds
        from sagemaker_operator.api.kinds import KINDS

        try:
            install_crds(self._api, (crd(kind) for kind in KINDS), timeout=STARTUP_TIMEOUT,
                         between_checks=self.check_children)
        except TimeoutError as error:
            raise DevError(str(error)) from error
        # As the chart installs it (Kubernetes >= 1.36; elsewhere the operator adds its finalizer itself). Not on a
        # cluster of the user's: the policy would outlive this stack, and objects created later, with no operator
        # running, could not be deleted.
        if self.cluster is not None:
            install_finalizer_policy(self._api, timeout=STARTUP_TIMEOUT)

    def _start_operator(self) -> None:
        self.out.step("starting the operator")
        liveness = free_port()
        args = operator_command(self.kubeconfig, liveness_port=liveness, metrics_port=free_port(),
                                region=self.region, emulator=not self.options.aws)
        env = emulator_env(self.emulator_url, self.region or DEFAULT_REGION) if self.emulator_url else dict(os.environ)
        # Besides --kubeconfig: `run` sets KUBECONFIG only after the kubernetes client has read it at import time.
        env["KUBECONFIG"] = str(self.kubeconfig)
        self.operator_log.write_bytes(b"")
        self.operator = start_child(args, self.operator_log, env=env)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{liveness}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise DevError(f"the operator was not live within {STARTUP_TIMEOUT:.0f} s; see {self.operator_log}")
            self.check_children(timeout=0.2)

    # -- running ---------------------------------------------------------------------------------------------

    def _children(self) -> list[tuple[str, int, Path | None]]:
        """(name, pid, log) of every child that should be running."""
        children: list[tuple[str, int, Path | None]] = []
        if self.cluster is not None and self.cluster.workdir is not None:
            children += [(name, pid, self.cluster.workdir / f"{name}.log") for name, pid in self._cluster_pids.items()]
        if self.emulator is not None:
            children.append(("the emulator", self.emulator.pid, self.emulator_log))
        if self.operator is not None:
            children.append(("the operator", self.operator.pid, self.operator_log))
        return children

    def check_children(self, timeout: float | None = 0) -> None:
        """Wait up to ``timeout`` (None: forever) for a child to exit; raise :class:`ChildExited` if one did."""
        if timeout != 0:
            wait_for_exit([pid for _, pid, _ in self._children()], timeout)
        for process, name, log in ((self.emulator, "the emulator", self.emulator_log),
                                   (self.operator, "the operator", self.operator_log)):
            if process is not None and process.poll() is not None:
                raise ChildExited(name, process.returncode, log)
        if self.cluster is not None and self.cluster.workdir is not None:
            running = set(self.cluster.pids)  # polls, so reaps, the cluster's processes; gives no exit code
            for name, pid in self._cluster_pids.items():
                if pid not in running:
                    raise ChildExited(name, None, self.cluster.workdir / f"{name}.log")

    def describe_children(self) -> str:
        """``operator, emulator, API server``: what :meth:`stop` stops, in order."""
        parts = [name for name, present in (("operator", self.operator), ("emulator", self.emulator),
                                            ("API server", self.cluster)) if present is not None]
        return ", ".join(parts) or "nothing started yet"

    def run_examples(self) -> None:
        """Apply examples/, wait until it is all Ready, and invoke each endpoint once (see :mod:`.examples`)."""
        ExampleRun(api=self._api, namespace=self.namespace, out=self.out, emulator_url=self.emulator_url,
                   region=self.region or DEFAULT_REGION, tick=lambda: self.check_children(timeout=0.25)
                   ).run(self.options.examples_dir)

    def wait(self) -> None:
        """Until a child exits (:class:`ChildExited`) or Ctrl-C/SIGTERM (KeyboardInterrupt)."""
        while True:
            self.check_children(timeout=None)

    # -- stopping --------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the operator, the emulator, then the API server; each step runs even if an earlier one failed."""
        try:
            if self.operator is not None:
                stop_child(self.operator)
        finally:
            try:
                if self.emulator is not None:
                    stop_child(self.emulator)
            finally:
                try:
                    if self.cluster is not None:
                        self.cluster.stop()
                        # Its server and token are gone; a stale file would only produce confusing errors.
                        with contextlib.suppress(OSError):
                            self.kubeconfig.unlink()
                finally:
                    if self._api is not None:
                        self._api.close()
                    if self._lock is not None:
                        self._lock.close()


def run_dev(options: DevOptions, out: Output | None = None) -> int:
    """The ``dev`` command: start, (examples), wait for Ctrl-C/SIGTERM, stop. Returns the exit code."""
    out = out or make_output()
    stack = DevStack(options, out)
    # SIGTERM (systemd, a test, `kill`) stops the stack as Ctrl-C does. SIGINT is set too: a shell starts background
    # jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt handler. Restored on the way out.
    previous = {sig: signal.signal(sig, _raise_keyboard_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        info = stack.start()
        out.banner(info)
        if options.examples:
            stack.run_examples()
        out.running()
        stack.wait()
    except KeyboardInterrupt:
        out.close()
        out.step(f"stopping ({stack.describe_children()})")
    except ChildExited as error:
        out.close()
        tail = _log_tail(error.log_path).rstrip()
        out.error(f"{error}; stopping everything." + (f"\nLast lines of its log:\n{tail}" if tail else ""))
        code = 1
    except Exception as error:  # a failure to start: report it in one line rather than a traceback
        out.close()
        out.error(f"{type(error).__name__}: {error}")
        code = 1
    finally:
        try:
            stack.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    out.step("stopped")
    return code

