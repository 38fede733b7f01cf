"""Admin API behaviours and the command-line entry point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from emulator_helpers import NO_RETRY, error_of, make_endpoint

from sagemaker_emulator.admin import AdminClient, AdminError
from sagemaker_emulator.server import EmulatorThread

OPERATOR_DIR = Path(__file__).resolve().parents[2] / "operator"


def test_throttling_fault_is_shaped_like_aws(sm: Any, admin: AdminClient) -> None:
    admin.set_fault("ListModels", throttle_rate=1.0, count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            sm.list_models()
        assert error_of(exc) == ("ThrottlingException", "Rate exceeded", 400)
    sm.list_models()  # the fault was limited to two calls
    assert admin.faults() == {}
    counters = admin.counters()
    assert counters["operation_errors"]["ListModels"] == {"ThrottlingException": 2}
    assert counters["operations"]["ListModels"] == 3


def test_server_errors_and_fault_validation(sm: Any, rt: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    admin.set_fault("*", error_rate=1.0, error_status=503)
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="ep", Body=b"{}")
    assert error_of(exc) == ("ServiceUnavailable", "Injected server error (emulator fault injection).", 503)
    admin.set_fault("*", error_rate=1.0)
    with pytest.raises(ClientError) as exc:
        sm.describe_endpoint(EndpointName="ep")
    assert (error_of(exc)[0], error_of(exc)[2]) == ("InternalFailure", 500)
    admin.clear_faults()
    with pytest.raises(AdminError):
        admin.set_fault("x", throttle_rate=2.0)
    with pytest.raises(AdminError):
        admin.set_fault("x", error_rate=0.5, error_status=404)


def test_snapshot_reset_and_durations(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    endpoint = admin.resources("endpoint")[0]
    assert endpoint["status"] == "InService"
    assert endpoint["arn"].endswith(":endpoint/ep")
    assert endpoint["variants"][0]["current_instance_count"] == 2
    assert {r["kind"] for r in admin.resources()} == {"model", "endpoint-config", "endpoint"}
    assert admin.set_durations(create=1.5)["create"] == 1.5
    admin.set_alarm("a", "ALARM")
    admin.fail_next("endpoint", "x")
    admin.reset()
    assert admin.snapshot() == {
        "resources": [],
        "alarms": {},
        "durations": {"create": 0.0, "update": 0.0, "delete": 0.0, "transform": 0.0},
    }
    assert admin.failures() == []
    assert admin.counters()["total"] == 0
    assert admin.health()["ok"] is True


def test_emulator_thread_stops_cleanly() -> None:
    emu = EmulatorThread().start()
    assert emu.running
    assert AdminClient(emu.url).health()["resources"] == 0
    emu.stop()
    assert not emu.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(emu.url.rsplit(":", 1)[1])), timeout=1).close()


@pytest.mark.timeout(30)
def test_cli_prints_url_serves_and_exits_on_sigint() -> None:
    env = {**os.environ, "PYTHONPATH": str(OPERATOR_DIR)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sagemaker_emulator",
            "--port",
            "0",
            "--create-seconds",
            "0",
            "--region",
            "eu-central-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        prefix = "sagemaker-emulator listening on http://127.0.0.1:"
        assert line.startswith(prefix), line
        url = line.removeprefix("sagemaker-emulator listening on ")
        sm = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="eu-central-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=NO_RETRY,
        )
        arn = sm.create_model(ModelName="m", PrimaryContainer={"Image": "img"})["ModelArn"]
        assert arn == "arn:aws:sagemaker:eu-central-1:123456789012:model/m"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_operator_entry_point_loads_the_click_command() -> None:
    from importlib.metadata import entry_points

    import click

    (entry,) = [e for e in entry_points(group="sagemaker_operator.commands") if e.name == "emulator"]
    command = entry.load()
    assert isinstance(command, click.Command)
    assert {"--host", "--port", "--region", "--account-id", "--create-seconds"} <= {
        opt for p in command.params for opt in p.opts
    }
