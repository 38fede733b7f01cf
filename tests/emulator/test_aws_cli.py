"""The AWS CLI (v1) against the emulator with nothing but ``AWS_ENDPOINT_URL``: ``aws s3`` and ``aws logs``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sagemaker_emulator.server import EmulatorThread

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
pytestmark = pytest.mark.skipif(AWS is None, reason="the AWS CLI is not installed (pip install awscli)")


@pytest.fixture
def aws(emulator: EmulatorThread, tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=emulator.url, AWS_ACCESS_KEY_ID="AKIAEMULATORTEST", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))

    def run(*args: str) -> str:
        assert AWS is not None
        done = subprocess.run([AWS, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def test_s3_cp_and_ls(aws: Any, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("1,2\n3,4\n")
    aws("s3", "mb", "s3://cli-bucket")
    aws("s3", "cp", str(source), "s3://cli-bucket/input/data.csv")
    listing = aws("s3", "ls", "s3://cli-bucket/input/")
    assert listing.split()[-2:] == ["8", "data.csv"]
    assert aws("s3", "cp", "s3://cli-bucket/input/data.csv", "-") == "1,2\n3,4\n"
    back = tmp_path / "back"
    aws("s3", "cp", "--recursive", "s3://cli-bucket/input", str(back))
    assert (back / "data.csv").read_text() == "1,2\n3,4\n"


def test_logs_commands(aws: Any) -> None:
    aws("logs", "create-log-group", "--log-group-name", "/cli/group")
    aws("logs", "create-log-stream", "--log-group-name", "/cli/group", "--log-stream-name", "s")
    # CloudWatch Logs (and moto) drop events older than 14 days: stamp it now.
    aws("logs", "put-log-events", "--log-group-name", "/cli/group", "--log-stream-name", "s",
        "--log-events", f"timestamp={int(time.time() * 1000)},message=hello-from-cli")
    events = json.loads(aws("logs", "get-log-events", "--log-group-name", "/cli/group", "--log-stream-name", "s"))
    assert [e["message"] for e in events["events"]] == ["hello-from-cli"]
    found = json.loads(aws("logs", "filter-log-events", "--log-group-name", "/cli/group"))
    assert [e["message"] for e in found["events"]] == ["hello-from-cli"]


def test_scaling_activities_through_the_cli(aws: Any) -> None:
    answer = json.loads(aws("application-autoscaling", "describe-scaling-activities", "--service-namespace",
                            "sagemaker"))
    assert answer == {"ScalingActivities": []}
