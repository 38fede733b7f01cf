"""``sagemaker-operator dev``: the whole local stack in one command, for trying the operator and developing it.

What runs, each as a child process that dies with this one (``PR_SET_PDEATHSIG``, see :mod:`localcluster`):

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

Output goes through :class:`PlainOutput` (one line per event, for pipes, logs and tests) or :class:`RichOutput`
(a panel and a live table, when stdout is a terminal).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import getpass
import json
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Protocol

import yaml

from sagemaker_operator.clusterbinaries import cache_dir
from sagemaker_operator.localcluster import LocalCluster, free_port, start_child, stop_child

DEFAULT_REGION = "us-east-1"
# The emulator answers in milliseconds and moves endpoints along in seconds: poll it often. (Against AWS the
# operator's defaults, 5 s doubling to 60 s, are right: creating an endpoint there takes minutes.)
EMULATOR_POLLING = ("--poll-initial-seconds", "0.5", "--poll-max-seconds", "5")
EMULATOR_LISTENING = "sagemaker-emulator listening on "
# examples/ at the root of a checkout: operator/sagemaker_operator/devstack.py -> the repository.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
STARTUP_TIMEOUT = 60.0
EXAMPLES_TIMEOUT = 120.0
# Dummy credentials for the emulator, which accepts any. Named so that nobody mistakes them for real ones.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDSAGEMAKEREMULATOR", "AWS_SECRET_ACCESS_KEY": "emulator"}
# Variables that would send the operator's AWS calls somewhere else than the emulator, or make botocore look for
# a profile the user has but the emulator does not need (a missing profile is an error even with the keys above).
_AWS_VARIABLES_TO_DROP = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                          "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONFIG_FILE",
                          "AWS_SHARED_CREDENTIALS_FILE")


class DevError(RuntimeError):
    """The stack could not start, or stopped working."""


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


# What `kubectl apply` (client-side, the default) records: the manifest as applied, and its field manager.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_FIELD_MANAGER = "kubectl-client-side-apply"


def as_kubectl_applies(document: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``document`` as ``kubectl apply`` creates it: annotated with the configuration it applied.

    The examples are created the way users create them, so that a user's own ``kubectl apply -f examples/...``
    afterwards merges with them quietly (without the annotation kubectl warns that it is missing), and
    ``kubectl apply --server-side`` takes them over as it does any client-side applied object.
    """
    applied = copy.deepcopy(document)
    metadata = applied.setdefault("metadata", {})
    metadata.setdefault("namespace", namespace)
    annotations = metadata.setdefault("annotations", {})
    # kubectl records the object it sends (namespace filled in, annotations without this one, even if that leaves
    # an empty map) as compact JSON with sorted keys; recording the same makes its next apply a no-op.
    annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n"
    return applied


@dataclass(frozen=True)
class StackInfo:
    """Where everything is, once the stack runs: what the banner prints."""

    api_server: str
    kubeconfig: Path
    local_cluster: bool
    namespace: str
    emulator_url: str | None
    region: str | None
    operator_log: Path
    emulator_log: Path | None
    examples_dir: Path
    kubectl_found: bool = True
    kubernetes_version: str = ""  # of the local API server


ENDPOINT_ROW = "endpoint"
COMPONENT_ROW = "inference component"
# Per row kind: the status fields holding the SageMaker status and the AWS name.
_ROW_STATUS_FIELDS = {ENDPOINT_ROW: ("endpointStatus", "endpointName"),
                      COMPONENT_ROW: ("inferenceComponentStatus", "inferenceComponentName")}


@dataclass(frozen=True)
class EndpointRow:
    """One SageMakerEndpoint (or SageMakerInferenceComponent, ``kind`` says which) as the progress display shows it."""

    namespace: str
    name: str
    endpoint_status: str  # the SageMaker status: EndpointStatus, or InferenceComponentStatus for a component
    ready: str  # the Ready condition's status for the current generation: True, False or Unknown
    reason: str
    message: str
    aws_name: str
    kind: str = ENDPOINT_ROW

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], kind: str = ENDPOINT_ROW) -> EndpointRow:
        """Read an object of that kind; a Ready condition about an older generation counts as Unknown."""
        metadata, spec, status = obj.get("metadata", {}), obj.get("spec") or {}, obj.get("status") or {}
        status_field, name_field = _ROW_STATUS_FIELDS[kind]
        ready: Mapping[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
        current = ready.get("observedGeneration") in (None, metadata.get("generation"))
        return cls(namespace=metadata.get("namespace", ""), name=metadata.get("name", ""),
                   endpoint_status=status.get(status_field, ""),
                   ready=str(ready.get("status", "Unknown")) if current else "Unknown",
                   reason=str(ready.get("reason", "")), message=str(ready.get("message", "")),
                   aws_name=status.get(name_field) or spec.get(name_field) or metadata.get("name", ""),
                   kind=kind)

    @property
    def is_ready(self) -> bool:
        """Ready=True for the object's current spec."""
        return self.ready == "True"


@dataclass(frozen=True)
class InvocationTarget:
    """One sample invocation to make: an endpoint (AWS name), and how to call it."""

    endpoint: str
    component: str | None = None  # InferenceComponentName, on an endpoint that hosts components
    asynchronous: bool = False  # InvokeEndpointAsync: the endpoint's config has an asyncInferenceConfig
    role_arn: str | None = None  # the endpoint's assumeRoleArn: it lives in that role's account
    region: str | None = None  # the endpoint's own region, if it names one

    @property
    def label(self) -> str:
        """``assistants`` or ``assistants, component chat``."""
        return self.endpoint + (f", component {self.component}" if self.component else "")


@dataclass(frozen=True)
class Invocation:
    """The answer to one InvokeEndpoint (or InvokeEndpointAsync) of an example endpoint."""

    endpoint: str
    variant: str
    model: str
    component: str | None = None
    output_location: str | None = None  # InvokeEndpointAsync: where the result will be written


# ---------------------------------------------------------------------------------------------------------------
# Text (shared by both outputs, and pure so it can be unit-tested)


def _display_path(path: Path) -> str:
    """``path`` relative to the current folder when it is below it (what a user can paste), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def aws_env_line(info: StackInfo) -> str:
    """The ``export`` line that points the AWS CLI and SDKs at the emulator (empty when AWS is the real one)."""
    if info.emulator_url is None:
        return ""
    return (f"export AWS_ENDPOINT_URL={info.emulator_url} AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
            f"AWS_REGION={info.region or DEFAULT_REGION}")


def summary_lines(info: StackInfo) -> list[tuple[str, str]]:
    """(label, value) pairs: what runs where."""
    cluster = (f"local etcd + kube-apiserver {info.kubernetes_version}, empty at each start" if info.local_cluster
               else "from --kubeconfig")
    sagemaker = (f"emulator at {info.emulator_url} (log: {info.emulator_log})" if info.emulator_url
                 else f"REAL AWS, region {info.region or 'from your AWS configuration'}")
    return [
        ("Kubernetes API", f"{info.api_server} ({cluster}; namespace {info.namespace})"),
        ("kubeconfig", str(info.kubeconfig)),
        ("SageMaker", sagemaker),
        ("operator log", str(info.operator_log)),
    ]


def next_steps(info: StackInfo) -> list[str]:
    """Commands to try in another terminal, in order."""
    steps = [f"export KUBECONFIG={info.kubeconfig}"]
    if info.emulator_url:
        steps.append(aws_env_line(info))
    single = _display_path(info.examples_dir / "single-model")
    steps += [
        f"kubectl apply -f {single}/",
        "kubectl get sagemaker",
        "kubectl wait --for=condition=Ready smendpoint/sentiment --timeout=120s",
    ]
    if info.emulator_url:
        steps.append("aws sagemaker-runtime invoke-endpoint --endpoint-name sentiment --body '{\"x\": 1}' "
                     "--cli-binary-format raw-in-base64-out /dev/stdout")
    return steps


def endpoint_line(row: EndpointRow) -> str:
    """``endpoint default/sentiment: InService, Ready`` or ``..., not ready (Reason: message)``."""
    state = "Ready" if row.is_ready else "not ready"
    detail = f" ({row.reason}: {row.message})" if not row.is_ready and (row.reason or row.message) else ""
    return f"{row.kind} {row.namespace}/{row.name}: {row.endpoint_status or 'Pending'}, {state}{detail}"


def ready_summary(rows: Sequence[EndpointRow]) -> str:
    """``9 endpoints and 2 inference components`` (components only when there are some)."""
    endpoints = sum(1 for row in rows if row.kind == ENDPOINT_ROW)
    components = len(rows) - endpoints
    text = f"{endpoints} endpoint{'' if endpoints == 1 else 's'}"
    if components:
        text += f" and {components} inference component{'' if components == 1 else 's'}"
    return text


def invocation_line(invocation: Invocation) -> str:
    """``invoked sentiment: variant AllTraffic answered (model sentiment-0a1b2c3d)``; with a component, ``invoked
    assistants, component chat: ...``; asynchronous, ``invoked transcriber asynchronously: accepted, result at S3``."""
    if invocation.output_location is not None:
        return f"invoked {invocation.endpoint} asynchronously: accepted, result at {invocation.output_location}"
    where = invocation.endpoint + (f", component {invocation.component}" if invocation.component else "")
    return f"invoked {where}: variant {invocation.variant} answered (model {invocation.model})"


def invocation_targets(endpoints: Sequence[Mapping[str, Any]], configs: Sequence[Mapping[str, Any]],
                       components: Sequence[Mapping[str, Any]]) -> list[InvocationTarget]:
    """What to invoke, given the SageMakerEndpoints to invoke and the namespace's configs and components.

    An endpoint hosting inference components (found by their ``endpointRef``, or a literal ``endpointName`` equal
    to the endpoint's AWS name) is invoked once per component that is Ready; an endpoint whose config (by
    ``endpointConfigRef``) has an ``asyncInferenceConfig`` asynchronously; any other once.
    """
    configs_by_name = {c.get("metadata", {}).get("name"): c for c in configs}
    targets = []
    for endpoint in endpoints:
        spec, row = endpoint.get("spec") or {}, EndpointRow.from_object(endpoint)
        config = configs_by_name.get((spec.get("endpointConfigRef") or {}).get("name"))
        role_arn = spec.get("assumeRoleArn") or None
        region = spec.get("region") or (endpoint.get("status") or {}).get("region") or None
        hosted = [EndpointRow.from_object(c, COMPONENT_ROW) for c in components
                  if (c.get("spec") or {}).get("endpointRef", {}).get("name") == row.name
                  or (c.get("spec") or {}).get("endpointName") == row.aws_name]
        if hosted:
            targets += [InvocationTarget(row.aws_name, component=c.aws_name, role_arn=role_arn, region=region)
                        for c in sorted(hosted, key=lambda c: c.name) if c.is_ready]
        else:
            asynchronous = bool(((config or {}).get("spec") or {}).get("asyncInferenceConfig"))
            targets.append(InvocationTarget(row.aws_name, asynchronous=asynchronous, role_arn=role_arn, region=region))
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Output


class Output(Protocol):
    """Where ``dev`` reports what it does."""

    def step(self, text: str) -> None:
        """Something is starting (a line; a terminal may show it dimmed)."""

    def warn(self, text: str) -> None:
        """Something the user must know (real AWS, stale state)."""

    def error(self, text: str) -> None:
        """Why the stack stops (stderr)."""

    def banner(self, info: StackInfo) -> None:
        """The stack is up: where everything is and what to try."""

    def endpoints(self, rows: Sequence[EndpointRow]) -> None:
        """Current state of the example endpoints; called on every poll."""

    def endpoints_done(self, rows: Sequence[EndpointRow], seconds: float) -> None:
        """Every example endpoint is Ready (or time ran out: then some rows are not ready)."""

    def invoked(self, invocation: Invocation) -> None:
        """One example endpoint answered."""

    def running(self) -> None:
        """Everything is started; waiting for Ctrl-C."""

    def close(self) -> None:
        """The command ends: release the terminal (a live display interrupted by Ctrl-C)."""


class PlainOutput:
    """One line per event on a stream, flushed: for pipes, CI logs and tests. Endpoint lines only on changes."""

    def __init__(self, stream: IO[str] | None = None, errors: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.errors = errors or sys.stderr
        self._last: dict[tuple[str, str, str], str] = {}

    def _print(self, text: str, stream: IO[str] | None = None) -> None:
        print(text, file=stream or self.stream, flush=True)

    def step(self, text: str) -> None:
        """Print the step."""
        self._print(f"... {text}")

    def warn(self, text: str) -> None:
        """Print a WARNING line."""
        self._print(f"WARNING: {text}")

    def error(self, text: str) -> None:
        """Print an ERROR line on stderr."""
        self._print(f"ERROR: {text}", self.errors)

    def banner(self, info: StackInfo) -> None:
        """Print the summary and the next steps."""
        width = max(len(label) for label, _ in summary_lines(info))
        self._print("sagemaker-operator dev is up:")
        for label, value in summary_lines(info):
            self._print(f"  {label.ljust(width)}  {value}")
        self._print("Try, in another terminal:")
        for command in next_steps(info):
            self._print(f"  {command}")
        if not info.kubectl_found:
            self._print("  (kubectl is not on PATH: https://kubernetes.io/docs/tasks/tools/)")

    def endpoints(self, rows: Sequence[EndpointRow]) -> None:
        """Print the rows that changed since the last call."""
        for row in rows:
            line = endpoint_line(row)
            if self._last.get((row.kind, row.namespace, row.name)) != line:
                self._last[(row.kind, row.namespace, row.name)] = line
                self._print(line)

    def endpoints_done(self, rows: Sequence[EndpointRow], seconds: float) -> None:
        """Print the outcome of the wait."""
        self.endpoints(rows)
        waiting = [row.name for row in rows if not row.is_ready]
        if waiting:
            self.warn(f"after {seconds:.0f} s, not Ready yet: {', '.join(waiting)} (the stack keeps running)")
        else:
            self._print(f"examples: {ready_summary(rows)} Ready in {seconds:.1f} s")

    def invoked(self, invocation: Invocation) -> None:
        """Print who answered."""
        self._print(invocation_line(invocation))

    def running(self) -> None:
        """Print the final line (tests wait for it)."""
        self._print("running; press Ctrl-C to stop everything")

    def close(self) -> None:
        """Nothing to release."""


class RichOutput:
    """A panel and a live table on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self.errors = Console(stderr=True)
        self._live: Any = None

    def step(self, text: str) -> None:
        """Print the step, dimmed."""
        self.console.print(f"[dim]{text}[/dim]", highlight=False)

    def warn(self, text: str) -> None:
        """Print a yellow warning."""
        self.console.print(f"[bold yellow]WARNING[/bold yellow] {text}", highlight=False)

    def error(self, text: str) -> None:
        """Print a red error on stderr."""
        from rich.markup import escape

        self.errors.print(f"[bold red]ERROR[/bold red] {escape(text)}", highlight=False)

    def banner(self, info: StackInfo) -> None:
        """A panel saying where things are, then the commands to try (outside it, unwrapped, for copy-paste)."""
        from rich.markup import escape
        from rich.panel import Panel
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for label, value in summary_lines(info):
            grid.add_row(label, escape(value))
        self.console.print(Panel(grid, title="sagemaker-operator dev", border_style="green", expand=False))
        self.console.print("[bold]Try, in another terminal:[/bold]")
        for command in next_steps(info):
            self.console.print(f"  [cyan]{escape(command)}[/cyan]", soft_wrap=True, highlight=False)
        if not info.kubectl_found:
            self.console.print("  (kubectl is not on PATH: https://kubernetes.io/docs/tasks/tools/)")

    @staticmethod
    def _table(rows: Sequence[EndpointRow]) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="Examples", title_justify="left")
        for column in ("Kind", "Name", "SageMaker status", "Ready", "Reason"):
            table.add_column(column)
        for row in rows:
            ready = "[green]True[/green]" if row.is_ready else f"[yellow]{escape(row.ready)}[/yellow]"
            reason = "" if row.is_ready else escape(f"{row.reason}: {row.message}".strip(": "))
            table.add_row(row.kind, f"{row.namespace}/{row.name}", row.endpoint_status or "Pending", ready, reason)
        return table

    def endpoints(self, rows: Sequence[EndpointRow]) -> None:
        """Redraw the live table."""
        if self._live is None:
            from rich.live import Live

            self._live = Live(self._table(rows), console=self.console, refresh_per_second=4)
            self._live.start()
        else:
            self._live.update(self._table(rows))

    def endpoints_done(self, rows: Sequence[EndpointRow], seconds: float) -> None:
        """Leave the final table on screen."""
        self.endpoints(rows)
        self._live.stop()
        self._live = None
        waiting = [row.name for row in rows if not row.is_ready]
        if waiting:
            self.warn(f"after {seconds:.0f} s, not Ready yet: {', '.join(waiting)} (the stack keeps running)")
        else:
            self.console.print(f"[green]All examples Ready ({ready_summary(rows)}) in {seconds:.1f} s[/green]")

    def invoked(self, invocation: Invocation) -> None:
        """Say who answered."""
        from rich.markup import escape

        if invocation.output_location is not None:
            self.console.print(f"[bold]{escape(invocation.endpoint)}[/bold]: accepted asynchronously, result at "
                               f"{escape(invocation.output_location)}", highlight=False)
            return
        where = escape(invocation.endpoint) + (f" / {escape(invocation.component)}" if invocation.component else "")
        self.console.print(f"[bold]{where}[/bold]: variant [cyan]{escape(invocation.variant)}[/cyan] answered "
                           f"(model {escape(invocation.model)})", highlight=False)

    def running(self) -> None:
        """Say how to stop."""
        self.console.print("[bold green]Running.[/bold green] Press Ctrl-C to stop everything.")

    def close(self) -> None:
        """Stop the live table if Ctrl-C came while it was shown, so the cursor comes back."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def make_output() -> Output:
    """Rich on a terminal, plain lines otherwise."""
    return RichOutput() if sys.stdout.isatty() else PlainOutput()


# ---------------------------------------------------------------------------------------------------------------
# Pieces of the stack


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


def load_manifests(folder: Path) -> list[dict[str, Any]]:
    """Every YAML document of ``folder`` and its subfolders, files in name order."""
    documents = []
    for path in sorted(folder.rglob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


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
        self.out.step("installing the CRDs")
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
        import kubernetes
        from kubernetes.client.exceptions import ApiException

        from sagemaker_operator.api.crds import crd
        from sagemaker_operator.api.kinds import KINDS

        # Typed as Any: the client's stubs want model objects, while the generated CRDs are plain dicts (which it
        # serializes as they are).
        extensions: Any = kubernetes.client.ApiextensionsV1Api(self._api)
        names = []
        for kind in KINDS:
            document = crd(kind)
            try:
                extensions.create_custom_resource_definition(document)
            except ApiException as error:
                if error.status != 409:
                    raise
                current = extensions.read_custom_resource_definition(kind.crd_name)
                document["metadata"]["resourceVersion"] = current.metadata.resource_version
                extensions.replace_custom_resource_definition(kind.crd_name, document)
            names.append(kind.crd_name)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for name in names:
            while True:
                status = extensions.read_custom_resource_definition(name).status
                if any(c.type == "Established" and c.status == "True" for c in (status and status.conditions) or []):
                    break
                if time.monotonic() > deadline:
                    raise DevError(f"CRD {name} was not Established within {STARTUP_TIMEOUT:.0f} s")
                self.check_children(timeout=0.1)

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
        """Apply the example manifests, show progress until every endpoint and inference component is Ready, then
        invoke each endpoint once (each component once, asynchronous endpoints with InvokeEndpointAsync)."""
        import kubernetes
        from kubernetes.client.exceptions import ApiException

        from sagemaker_operator.api.kinds import API_VERSION, ENDPOINT_CONFIG, GROUP, KINDS_BY_NAME, VERSION

        folder = self.options.examples_dir
        if not folder.is_dir():
            raise DevError(f"--examples: no folder {folder} (run dev from a checkout of the repository)")
        self.out.step(f"applying the manifests of {_display_path(folder)}/")
        api = kubernetes.client.CustomObjectsApi(self._api)
        endpoints: list[str] = []
        components: list[str] = []
        for document in load_manifests(folder):
            kind = KINDS_BY_NAME.get(document.get("kind", ""))
            if kind is None or document.get("apiVersion") != API_VERSION:
                raise DevError(f"--examples: {document.get('apiVersion')}/{document.get('kind')} is not a kind of "
                               f"this operator")
            name = document["metadata"]["name"]
            applied = as_kubectl_applies(document, self.namespace)
            try:
                api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, kind.plural, applied,
                                                    field_manager=KUBECTL_FIELD_MANAGER)
            except ApiException as error:
                if error.status != 409:
                    raise DevError(f"{kind.kind} {name} was refused: {error.body}") from error
                api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, kind.plural, name,
                                                   {"metadata": {"annotations": applied["metadata"]["annotations"]},
                                                    "spec": document.get("spec", {})},
                                                   field_manager=KUBECTL_FIELD_MANAGER)
            if kind.kind == "SageMakerEndpoint":
                endpoints.append(name)
            elif kind.kind == "SageMakerInferenceComponent":
                components.append(name)
        rows, found = self._wait_examples_ready(api, endpoints, components)
        if not self.emulator_url:
            return
        ready = [found[(ENDPOINT_ROW, row.name)] for row in rows if row.kind == ENDPOINT_ROW and row.is_ready]
        listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, ENDPOINT_CONFIG.plural)
        configs: list[dict[str, Any]] = listed["items"]
        hosted = [obj for (kind, _), obj in found.items() if kind == COMPONENT_ROW]
        for target in invocation_targets(ready, configs, hosted):
            try:
                self.out.invoked(self._invoke(target))
            except Exception as error:  # one failed sample invocation is worth a line, not stopping the stack
                self.out.warn(f"invoking {target.label} failed: {type(error).__name__}: {error}")

    def _wait_examples_ready(self, api: Any, endpoints: Sequence[str], components: Sequence[str]
                             ) -> tuple[list[EndpointRow], dict[tuple[str, str], dict[str, Any]]]:
        """Rows of the endpoints, then the components, once all are Ready or at the deadline; and the objects read
        last, by (row kind, name)."""
        from sagemaker_operator.api.kinds import ENDPOINT, GROUP, INFERENCE_COMPONENT, VERSION

        wanted = [(ENDPOINT_ROW, name) for name in endpoints] + [(COMPONENT_ROW, name) for name in components]
        plurals = [(ENDPOINT_ROW, ENDPOINT.plural)] + ([(COMPONENT_ROW, INFERENCE_COMPONENT.plural)]
                                                       if components else [])
        start = time.monotonic()
        while True:
            found: dict[tuple[str, str], dict[str, Any]] = {}
            for row_kind, plural in plurals:
                listed = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
                found.update({(row_kind, item["metadata"]["name"]): item for item in listed["items"]})
            rows = [EndpointRow.from_object(found[key], key[0]) if key in found
                    else EndpointRow(self.namespace, key[1], "", "Unknown", "", "", key[1], kind=key[0])
                    for key in wanted]
            elapsed = time.monotonic() - start
            if all(row.is_ready for row in rows) or elapsed > EXAMPLES_TIMEOUT:
                self.out.endpoints_done(rows, elapsed)
                return rows, found
            self.out.endpoints(rows)
            self.check_children(timeout=0.25)

    def _invoke(self, target: InvocationTarget) -> Invocation:
        """One sample invocation through boto3's sagemaker-runtime client, on the emulator.

        A cross-account endpoint is invoked as its role (STS AssumeRole on the emulator): it lives in that account.
        """
        import boto3

        region = target.region or self.region or DEFAULT_REGION
        session = boto3.session.Session(
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name=region)
        if target.role_arn:
            credentials = session.client("sts", endpoint_url=self.emulator_url).assume_role(
                RoleArn=target.role_arn, RoleSessionName="sagemaker-operator-dev")["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"], region_name=region)
        runtime = session.client("sagemaker-runtime", endpoint_url=self.emulator_url)
        if target.asynchronous:
            # The input would be uploaded to S3 first; the emulator needs none there (it has no S3).
            accepted = runtime.invoke_endpoint_async(
                EndpointName=target.endpoint, ContentType="application/json",
                InputLocation=f"s3://sagemaker-operator-dev/async-inputs/{target.endpoint}.json")
            return Invocation(endpoint=target.endpoint, variant="", model="",
                              output_location=str(accepted.get("OutputLocation", "?")))
        extra = {"InferenceComponentName": target.component} if target.component else {}
        response = runtime.invoke_endpoint(EndpointName=target.endpoint, ContentType="application/json",
                                           Body=json.dumps({"inputs": "hello from sagemaker-operator dev"}), **extra)
        body = json.loads(response["Body"].read() or b"{}")
        return Invocation(endpoint=target.endpoint, variant=str(response.get("InvokedProductionVariant", "?")),
                          model=str(body.get("model", "?")), component=target.component)

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

