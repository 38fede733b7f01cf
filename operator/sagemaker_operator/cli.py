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


@main.command("local-cluster")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep certificates, etcd data and logs here instead of a temporary folder.")
def local_cluster(workdir: Path | None) -> None:
    """Start a real Kubernetes API server (etcd + kube-apiserver) on loopback until Ctrl-C.

    The first run builds kube-apiserver once (about 5 minutes) and caches it.
    """
    from sagemaker_operator.localcluster import LocalCluster

    cluster = LocalCluster(workdir=workdir)
    # SIGTERM should clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        click.echo(f"Kubernetes API server ready at {cluster.server}")
        click.echo(f"export KUBECONFIG={cluster.kubeconfig_path}")
        click.echo("Press Ctrl-C to stop it.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubectl-sagemaker")
def kubectl_plugin() -> None:
    """kubectl plugin for SageMaker endpoints managed by sagemaker-operator (`kubectl sagemaker ...`)."""
