"""What ``sagemaker-operator dev`` shows: the banner, the table of endpoints and components while they come up, and
the sample invocations, as plain lines (:class:`PlainOutput`: pipes, logs, tests) or a live terminal table
(:class:`RichOutput`). Pure formatting: nothing here starts a process or calls an API.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from sagemaker_operator.dev import DEFAULT_REGION


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


def display_path(path: Path) -> str:
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
    single = display_path(info.examples_dir / "single-model")
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
