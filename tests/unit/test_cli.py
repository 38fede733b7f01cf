"""The command-line entry points are wired up."""

from __future__ import annotations

import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sagemaker_operator import __version__
from sagemaker_operator.cli import main
from sagemaker_operator.plugin import main as kubectl_plugin


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
    assert __version__ != "0.0.0+unknown"


def test_help_lists_the_commands_including_plugged_in_ones() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "local-cluster" in result.output
    # The emulator lives in its own package and is found through the entry point, not an import.
    assert "emulator" in result.output


def test_unknown_command_is_an_error() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_kubectl_plugin_entry_point() -> None:
    result = CliRunner().invoke(kubectl_plugin, ["--version"])
    assert result.exit_code == 0
    assert "kubectl-sagemaker" in result.output
    listed = CliRunner().invoke(kubectl_plugin, ["--help"]).output
    for command in ("status", "invoke", "plan", "rollback"):
        assert command in listed


def test_help_of_every_command_needs_no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--help` is read before anything is set up: no kubeconfig, no home folder with one, no AWS."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for group in (main, kubectl_plugin):
        assert isinstance(group, click.Group)
        for name in group.list_commands(click.Context(group)):
            result = CliRunner().invoke(group, [name, "--help"])
            assert result.exit_code == 0, f"{group.name} {name} --help: {result.output}"
            assert "Usage:" in result.output
    # A command that does need the cluster still says so plainly.
    result = CliRunner().invoke(kubectl_plugin, ["status"])
    assert result.exit_code == 1
    assert "cannot load the kubeconfig" in result.output


def test_run_refuses_one_port_for_liveness_and_metrics() -> None:
    """Both servers on one port: the metrics server would answer /healthz for the operator that cannot start."""
    result = CliRunner().invoke(main, ["run", "--no-leader-elect", "--liveness-port", "18080", "--metrics-port",
                                       "18080"])
    assert result.exit_code == 2
    assert "--metrics-port" in result.output and "--liveness-port" in result.output


@pytest.mark.parametrize("flag", ["--liveness-port", "--metrics-port"])
def test_run_names_a_port_it_cannot_listen_on(flag: str) -> None:
    """A port another process listens on is refused before the operator starts, naming the flag; the liveness
    server would otherwise fail only once kopf runs, and stop the operator with a traceback."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = {"--liveness-port": "0", "--metrics-port": "0", flag: str(taken)}
        result = CliRunner().invoke(main, ["run", "--no-leader-elect", *(arg for pair in ports.items()
                                                                         for arg in pair)])
    assert result.exit_code == 2, result.output
    assert flag in result.output and f"cannot listen on port {taken}" in result.output
