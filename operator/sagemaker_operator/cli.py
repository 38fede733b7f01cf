"""Command-line entry points: ``sagemaker-operator`` and the ``kubectl-sagemaker`` plugin."""

from __future__ import annotations

import signal
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from sagemaker_operator import __version__

# Subcommands that live in other distributions or packages (the emulator) register under this entry-point
# group; loading them lazily keeps `sagemaker_operator` free of imports of those packages.
COMMAND_ENTRY_POINTS = "sagemaker_operator.commands"


class _PluggableGroup(click.Group):
    """A click group that also offers the commands registered under :data:`COMMAND_ENTRY_POINTS`."""

    def _plugins(self) -> dict[str, object]:
        return {ep.name: ep for ep in entry_points(group=COMMAND_ENTRY_POINTS)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        plugin = self._plugins().get(cmd_name)
        if plugin is None:
            return None
        loaded = plugin.load()  # type: ignore[attr-defined]
        return loaded if isinstance(loaded, click.Command) else None


@click.group(cls=_PluggableGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sagemaker-operator")
def main() -> None:
    """Run Amazon SageMaker real-time inference hosting from Kubernetes custom resources."""


@main.command("run")
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Watch only this namespace (repeatable). Default: all namespaces.")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], show_envvar=True,
              help="Default AWS region for objects without spec.region.")
@click.option("--cluster-id", envvar="SAGEMAKER_OPERATOR_CLUSTER_ID", default="default", show_default=True,
              help="This cluster's name in the ownership tags of AWS resources; unique per AWS account.")
@click.option("--resync-seconds", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Drift check interval: each region's endpoints, components, models and configs are listed by the "
                   "page (100 per call; up to 20% jitter is added) and only what differs from status is described.")
@click.option("--tag-check-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Compare endpoints' and components' tags with their specs on every Nth drift check (GetResources, "
                   "100 per call).")
@click.option("--artifact-tracking/--no-artifact-tracking", default=False, show_default=True,
              help="Artifact-aware revisions for models whose spec.artifactTracking is unset: an S3 artifact "
                   "overwritten in place makes a new model revision and updates its endpoints.")
@click.option("--artifact-check-seconds", type=click.FloatRange(min=1), default=600.0, show_default=True,
              help="How often a tracked model's artifacts are read from S3 (one HeadObject per object, one "
                   "ListObjectsV2 page per prefix).")
@click.option("--poll-initial-seconds", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="First delay before describing a resource AWS is working on; doubles up to --poll-max-seconds.")
@click.option("--poll-max-seconds", type=click.FloatRange(min=0.05), default=60.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=32, show_default=True,
              help="Objects reconciled at the same time (each waits on AWS or Kubernetes most of its time; AWS calls "
                   "in flight are capped at 32 whatever this says).")
@click.option("--aws-retry-mode", type=click.Choice(["standard", "adaptive"]), default="standard", show_default=True,
              help="botocore retry mode. adaptive adds a client-side rate limiter shared by all objects of a region "
                   "(AWS advises it for single-tenant uses only).")
@click.option("--aws-max-attempts", type=click.IntRange(min=1), default=5, show_default=True,
              help="Attempts per AWS call, the first included, before the object's own backoff takes over.")
@click.option("--liveness-port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True,
              help="Port of the /healthz liveness endpoint (0: none).")
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=9090, show_default=True,
              help="Port of the Prometheus /metrics endpoint (0: none).")
@click.option("--watch-timeout-seconds", type=click.IntRange(min=5), default=300, show_default=True,
              help="Restart each Kubernetes watch after this long, so a stream that stalls without closing is noticed.")
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain", show_default=True)
@click.option("--verbose", is_flag=True, help="Log more.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True),
              help="Kubeconfig to use outside a cluster (default: in-cluster, then KUBECONFIG).")
@click.option("--leader-elect/--no-leader-elect", default=True, show_default=True,
              help="Act only while holding a Lease, so that several processes with the same arguments never act at "
                   "once (the others stand by, watches and caches filled). --no-leader-elect: for one-off runs.")
@click.option("--leader-election-namespace", metavar="NAMESPACE",
              help="Namespace of the Lease. Default: the pod's (POD_NAMESPACE, else the service account's), "
                   "else default.")
@click.option("--leader-election-id", default="sagemaker-operator", show_default=True, metavar="NAME",
              help="Name of the Lease: one per set of processes that must not act together (one per Helm release).")
@click.option("--leader-election-lease-duration", type=click.IntRange(min=1), default=15, show_default=True,
              help="Seconds a standby waits, after it last saw the lease renewed, before it takes the lease over.")
@click.option("--leader-election-renew-deadline", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True,
              help="Seconds after its last renewal at which a leader that could not renew stops acting; shorter "
                   "than the lease duration, so it stops before another process may start.")
@click.option("--leader-election-retry-period", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Seconds between attempts to renew, or to acquire the lease.")
def run(namespaces: tuple[str, ...], region: str | None, cluster_id: str, resync_seconds: float,
        tag_check_every: int, artifact_tracking: bool, artifact_check_seconds: float, poll_initial_seconds: float,
        poll_max_seconds: float, workers: int,
        aws_retry_mode: str, aws_max_attempts: int, liveness_port: int, metrics_port: int,
        watch_timeout_seconds: int, log_format: str, verbose: bool, kubeconfig: str | None, leader_elect: bool,
        leader_election_namespace: str | None, leader_election_id: str, leader_election_lease_duration: int,
        leader_election_renew_deadline: float, leader_election_retry_period: float) -> None:
    """Run the operator: reconcile SageMaker custom resources until stopped (SIGINT/SIGTERM)."""
    if liveness_port and liveness_port == metrics_port:
        raise click.BadParameter(f"{metrics_port} is --liveness-port too; the two servers need a port each",
                                 param_hint="--metrics-port")
    import logging
    import os

    _limit_malloc_arenas()

    import kopf
    from prometheus_client import start_http_server

    import sagemaker_operator.handlers  # noqa: F401 - registers the kopf handlers
    from sagemaker_operator.leader import ElectionConfig, default_identity, default_namespace
    from sagemaker_operator.metrics import REGISTRY
    from sagemaker_operator.reconcile.context import OperatorSettings

    election: ElectionConfig | None = None
    if leader_elect:
        try:
            election = ElectionConfig(
                namespace=leader_election_namespace or default_namespace(), name=leader_election_id,
                identity=default_identity(), lease_duration=leader_election_lease_duration,
                renew_deadline=leader_election_renew_deadline, retry_period=leader_election_retry_period)
        except ValueError as error:
            raise click.UsageError(str(error)) from error

    if liveness_port:
        _check_listenable(liveness_port, "--liveness-port")
    if metrics_port:
        try:
            start_http_server(metrics_port, registry=REGISTRY)
        except OSError as error:
            raise _cannot_listen(metrics_port, "--metrics-port", error) from error
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL)
    # Even with --verbose, the AWS and HTTP libraries stay quiet: at DEBUG they log signed request headers, which
    # carry session tokens when a role is assumed.
    for library in ("botocore", "boto3", "urllib3", "kubernetes"):
        logging.getLogger(library).setLevel(logging.WARNING)
    if not verbose:
        # kopf logs every watch event handled at INFO: thousands of lines a minute, a few percent of the CPU.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    # A failed credential refresh is reported per object (Degraded, AwsCredentials); botocore's own warning about it
    # comes with a traceback and names no object.
    logging.getLogger("botocore.credentials").setLevel(logging.ERROR)
    settings = OperatorSettings(cluster_id=cluster_id, default_region=region, resync_seconds=resync_seconds,
                                tag_check_every=tag_check_every, poll_initial_seconds=poll_initial_seconds,
                                poll_max_seconds=poll_max_seconds, artifact_tracking=artifact_tracking,
                                artifact_check_seconds=artifact_check_seconds)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=f"http://0.0.0.0:{liveness_port}/healthz" if liveness_port else None,
        memo=kopf.Memo(settings=settings, workers=workers, watch_server_timeout=watch_timeout_seconds,
                       namespaces=list(namespaces), aws_retry_mode=aws_retry_mode,
                       aws_max_attempts=aws_max_attempts, leader_election=election),
    )


def _check_listenable(port: int, flag: str) -> None:
    """Refuse, naming ``flag``, a port that a server could not listen on now: kopf binds the liveness port only
    once it runs, and then stops the whole operator with a traceback if it cannot."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server will: a port whose last connections linger in TIME_WAIT is still free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            raise _cannot_listen(port, flag, error) from error


def _cannot_listen(port: int, flag: str, error: OSError) -> click.BadParameter:
    """The usage error for a port no server can listen on, naming the flag that gave it."""
    return click.BadParameter(f"cannot listen on port {port}: {error.strerror or error}", param_hint=flag)


# glibc's mallopt parameter for the number of malloc arenas.
M_ARENA_MAX = -8


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Have glibc share two malloc arenas between all threads (when MALLOC_ARENA_MAX does not say otherwise).

    By default each thread that allocates gets an arena of its own, up to eight per core. The operator's AWS and
    Kubernetes calls run in pools of threads, each decoding answers in its own arena, and memory freed there is
    rarely given back: at 1,000 endpoints that was a third of the operator's resident memory. Called before any
    thread starts; a no-op on other C libraries.
    """
    import ctypes
    import ctypes.util
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        return


KUBERNETES_VERSION_OPTION = click.option(
    "--kubernetes-version", envvar="SAGEMAKER_OPERATOR_KUBERNETES_VERSION", metavar="1.MINOR[.PATCH]",
    help="Kubernetes version of the local API server, e.g. 1.20 (the oldest supported). Default: the newest "
         "pinned release (1.37.2). Built once from Go modules (1.20: from Debian's source) and cached.")


@main.command("local-cluster")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep certificates, etcd data and logs here instead of a temporary folder.")
@KUBERNETES_VERSION_OPTION
def local_cluster(workdir: Path | None, kubernetes_version: str | None) -> None:
    """Start a real Kubernetes API server (etcd + kube-apiserver) on loopback until Ctrl-C.

    The first run of a version builds its binaries once (about 5 minutes on 2 cores) and caches them.
    """
    from sagemaker_operator.dev.binaries import BinariesNotFound
    from sagemaker_operator.dev.cluster import LocalCluster, LocalClusterError

    cluster = LocalCluster(workdir=workdir, kubernetes_version=kubernetes_version)
    # SIGTERM should clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        try:
            cluster.start()
        except (BinariesNotFound, LocalClusterError) as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"Kubernetes API server {cluster.version} ready at {cluster.server}")
        click.echo(f"export KUBECONFIG={cluster.kubeconfig_path}")
        click.echo("Press Ctrl-C to stop it.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


@main.command("dev")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Use this cluster instead of starting a local API server (the CRDs are installed there). "
                   "KUBECONFIG alone is ignored on purpose, so dev never touches another cluster by surprise.")
@click.option("--aws", is_flag=True,
              help="Use real SageMaker with your own AWS credentials instead of the emulator. Costs money.")
@click.option("--region", help="AWS region. Default: us-east-1 on the emulator; with --aws, your AWS configuration.")
@click.option("--examples", is_flag=True,
              help="Apply examples/, wait until every endpoint is Ready, and invoke each once (emulator only).")
@click.option("--create-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Emulator: time an endpoint takes from Creating to InService.")
@click.option("--update-seconds", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Emulator: time an endpoint update takes.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the logs and the kubeconfig. Default: ~/.cache/sagemaker-operator/dev.")
@KUBERNETES_VERSION_OPTION
def dev(kubeconfig: Path | None, aws: bool, region: str | None, examples: bool, create_seconds: float,
        update_seconds: float, workdir: Path | None, kubernetes_version: str | None) -> None:
    """Start the local stack until Ctrl-C: API server, SageMaker emulator, CRDs and the operator.

    Prints the kubeconfig and AWS_ENDPOINT_URL to use, the operator's log file, and what to try next.
    """
    from sagemaker_operator.dev.stack import DevOptions, run_dev

    if aws and examples:
        # The examples' images, artifacts and role are fake: on AWS they would only produce failed resources.
        raise click.UsageError("--examples works with the emulator only; it cannot be combined with --aws")
    sys.exit(run_dev(DevOptions(kubeconfig=kubeconfig, aws=aws, region=region, examples=examples,
                                create_seconds=create_seconds, update_seconds=update_seconds, workdir=workdir,
                                kubernetes_version=kubernetes_version)))
