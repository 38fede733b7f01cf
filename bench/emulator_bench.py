"""Benchmark the SageMaker emulator: DescribeEndpoint latency with 1,000 endpoints, RSS at 10,000 resources.

Usage::

    python bench/emulator_bench.py [--endpoints 1000] [--resources 10000] [--calls 2000] [--json-out FILE]

Starts ``python -m sagemaker_emulator --port 0`` in a subprocess (all durations 0), creates the
endpoints (each with its model and endpoint config) through boto3, then measures DescribeEndpoint
over loopback two ways: end to end through a boto3 client (what the operator sees, including
botocore's signing and parsing) and as raw HTTP on a kept-alive connection (the server alone).
Finally it adds models until the emulator holds ``--resources`` resources and reads the server's
RSS from /proc. Targets (issue 3): median under 5 ms, RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.config

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1"


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """Start the emulator subprocess and read its URL from the first stdout line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    args = [sys.executable, "-m", "sagemaker_emulator", "--port", "0"]
    args += ["--create-seconds", "0", "--update-seconds", "0", "--delete-seconds", "0"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("sagemaker-emulator listening on "):
        process.kill()
        raise SystemExit(f"unexpected first line from emulator: {line!r}")
    return process, line.rsplit(" ", 1)[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("VmRSS not found")


def resource_count(url: str) -> int:
    """Number of resources the emulator holds (admin health)."""
    with urllib.request.urlopen(f"{url}/_emulator/health") as response:
        return int(json.loads(response.read())["resources"])


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    """Run the benchmark and print a table plus JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--resources", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json-out", type=Path, default=None, help="write the JSON result here instead of stdout")
    args = parser.parse_args()

    process, url = start_emulator()
    try:
        sm = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIABENCH",
            aws_secret_access_key="bench",
            config=botocore.config.Config(retries={"total_max_attempts": 1}),
        )
        rss_start = rss_mb(process.pid)
        started = time.monotonic()
        for i in range(args.endpoints):
            sm.create_model(ModelName=f"m-{i}", PrimaryContainer={"Image": IMAGE})
            sm.create_endpoint_config(
                EndpointConfigName=f"c-{i}",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": f"m-{i}",
                        "InstanceType": "ml.g5.xlarge",
                        "InitialInstanceCount": 2,
                    }
                ],
            )
            sm.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName=f"c-{i}")
        setup_seconds = time.monotonic() - started

        names = [f"ep-{random.randrange(args.endpoints)}" for _ in range(args.calls)]
        for name in names[:100]:  # warm-up
            sm.describe_endpoint(EndpointName=name)
        boto_ms = []
        for name in names:
            t0 = time.perf_counter()
            sm.describe_endpoint(EndpointName=name)
            boto_ms.append((time.perf_counter() - t0) * 1000)

        host, port = url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port))
        headers = {"X-Amz-Target": "SageMaker.DescribeEndpoint", "Content-Type": "application/x-amz-json-1.1"}
        raw_ms = []
        for name in names:
            body = json.dumps({"EndpointName": name})
            t0 = time.perf_counter()
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            raw_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status == 200
        conn.close()
        rss_1000 = rss_mb(process.pid)

        # Fill with more model/config/endpoint triples (a realistic mix), topped up with models.
        def triple(i: int) -> None:
            sm.create_model(ModelName=f"m-{i}", PrimaryContainer={"Image": IMAGE})
            sm.create_endpoint_config(
                EndpointConfigName=f"c-{i}",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": f"m-{i}",
                        "InstanceType": "ml.g5.xlarge",
                        "InitialInstanceCount": 2,
                    }
                ],
            )
            sm.create_endpoint(EndpointName=f"ep-{i}", EndpointConfigName=f"c-{i}")

        index = args.endpoints
        count = resource_count(url)
        while count + 3 <= args.resources:
            triple(index)
            index, count = index + 1, count + 3
        while count < args.resources:
            sm.create_model(ModelName=f"fill-{count}", PrimaryContainer={"Image": IMAGE})
            count += 1
        total = resource_count(url)
        rss_full = rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)

    result: dict[str, Any] = {
        "endpoints": args.endpoints,
        "describe_calls": args.calls,
        "setup_seconds": round(setup_seconds, 2),
        "describe_endpoint_boto3_ms": {
            "median": round(statistics.median(boto_ms), 3),
            "p95": round(percentile(boto_ms, 95), 3),
        },
        "describe_endpoint_raw_http_ms": {
            "median": round(statistics.median(raw_ms), 3),
            "p95": round(percentile(raw_ms, 95), 3),
        },
        "rss_mb": {
            "start": round(rss_start, 1),
            "at_endpoints": round(rss_1000, 1),
            "at_resources": round(rss_full, 1),
        },
        "resources": total,
        "targets": {"median_ms": 5, "rss_mb": 300},
        "exit_code": process.returncode,
    }
    rows = [
        ("DescribeEndpoint via boto3, median", f"{result['describe_endpoint_boto3_ms']['median']:.2f} ms"),
        ("DescribeEndpoint via boto3, p95", f"{result['describe_endpoint_boto3_ms']['p95']:.2f} ms"),
        ("DescribeEndpoint raw HTTP, median", f"{result['describe_endpoint_raw_http_ms']['median']:.2f} ms"),
        ("DescribeEndpoint raw HTTP, p95", f"{result['describe_endpoint_raw_http_ms']['p95']:.2f} ms"),
        ("RSS after start-up", f"{result['rss_mb']['start']:.1f} MB"),
        (f"RSS with {args.endpoints} endpoints", f"{result['rss_mb']['at_endpoints']:.1f} MB"),
        (f"RSS with {total} resources", f"{result['rss_mb']['at_resources']:.1f} MB"),
    ]
    width = max(len(k) for k, _ in rows)
    print(
        "\n".join(f"{k:<{width}}  {v:>10}" for k, v in rows), file=sys.stderr if args.json_out is None else sys.stdout
    )
    text = json.dumps(result, indent=2)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
