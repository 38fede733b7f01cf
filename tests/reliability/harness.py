"""Tools of the reliability tests: an operator process that can be killed and restarted, a TCP proxy that can stall
or cut the operator's connections to the API server, a churn driver, and readers of metrics, RSS and counters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.dev.cluster import free_port, start_child, stop_child
from tests.helpers import pid_alive, wait_for
from tests.operator_harness import (
    FAST_POLLING,
    GROUP,
    PLURALS,
    VERSION,
    Objects,
    aws_env,
    config_spec,
    is_live,
    model_spec,
    own_lease,
)

MODEL, CONFIG, ENDPOINT, IC = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint", \
    "SageMakerInferenceComponent"
KINDS = (MODEL, CONFIG, ENDPOINT, IC)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn"
# Credentials the reliability tests give the operator: distinctive, so that a scan can find any leak of them.
ACCESS_KEY_ID = "AKIARELIABILITY00001"
SECRET_ACCESS_KEY = "rel1ab1l1tySecretKeyDoNotLog/0123456789ab"


def churn_size(default: int) -> int:
    """How many endpoints a churn uses: ``SAGEMAKER_OPERATOR_CHURN`` when set (the full run uses 200)."""
    return int(os.environ.get("SAGEMAKER_OPERATOR_CHURN", default))


def scaled(default: int, full: int) -> int:
    """``default`` in CI; ``full`` (capped by the churn size ratio) when SAGEMAKER_OPERATOR_CHURN asks for more."""
    churn = os.environ.get("SAGEMAKER_OPERATOR_CHURN")
    return full if churn and int(churn) >= 200 else default


# --- the operator process ------------------------------------------------------------------------------------------


class OperatorProcess:
    """``sagemaker-operator run`` for the reliability tests: start, SIGKILL, restart; each run logs to its own file.

    Unlike ``running_operator`` it can be restarted, and its environment (credentials, kubeconfig) can be chosen.
    """

    def __init__(self, kubeconfig: Path, emulator_url: str, namespaces: list[str], log_dir: Path,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None, verbose: bool = True) -> None:
        self.kubeconfig = kubeconfig
        self.verbose = verbose
        self.emulator_url = emulator_url
        self.namespaces = namespaces
        self.log_dir = log_dir
        self.extra_args = list(extra_args or [])
        self.env = {**aws_env(emulator_url), "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []
        self.metrics_port = 0
        self.liveness_port = 0
        self.starts = 0

    def start(self, *, wait: bool = True) -> subprocess.Popen[bytes]:
        assert self.process is None or self.process.poll() is not None, "the operator is already running"
        self.starts += 1
        self.liveness_port, self.metrics_port = free_port(), free_port()
        log = self.log_dir / f"operator-{self.starts}.log"
        self.logs.append(log)
        args = [sys.executable, "-m", "sagemaker_operator", "run", "--liveness-port", str(self.liveness_port),
                "--metrics-port", str(self.metrics_port), *(["--verbose"] if self.verbose else []), *FAST_POLLING]
        for namespace in self.namespaces:
            args += ["--namespace", namespace]
        # A fresh lease per start: a restart after a SIGKILL must not wait for the killed run's lease to expire.
        # Tests of the election itself choose the lease in extra_args, which come later and win.
        args += own_lease(self.namespaces[0] if self.namespaces else None)
        args += self.extra_args
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.env}
        self.process = start_child(args, log, env=env)
        if wait:
            wait_for(self.alive, timeout=60, what="the operator's liveness endpoint")
        return self.process

    def alive(self) -> bool:
        """The liveness endpoint answers 200 (the process must not have exited)."""
        assert self.process is not None
        return is_live(self.process, self.liveness_port)

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a node failure would; reaped at once."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_child(self.process)
            assert not pid_alive(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident set size of the running operator."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def metrics(self) -> dict[str, float]:
        """The operator's Prometheus metrics (current run), as ``name{labels}`` -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    values[key] = float(value)
        return values

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def __enter__(self) -> OperatorProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if exc[0] is not None:
            print(f"--- operator logs ({self.logs}) ---\n{self.log_text()[-8000:]}")


def metric_sum(metrics: dict[str, float], name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for key, value in metrics.items():
        if not key.startswith(name + "{") and key != name:
            continue
        if all(f'{k}="{v}"' in key for k, v in labels.items()):
            total += value
    return total


# --- a TCP proxy between the operator and the API server -----------------------------------------------------------


class StallingProxy:
    """A TCP proxy on 127.0.0.1 (TLS passes through untouched) that the test can make misbehave:

    * :meth:`stall`: every connection open now stops forwarding in both directions but stays open, as with a
      half-dead NAT entry or load balancer; connections opened later are forwarded normally.
    * :meth:`block`: open connections are closed and new ones are closed at once (the API server seems down).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stalling-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._stalled: set[int] = set()
        self._blocked = False
        self.accepted = 0

    def __enter__(self) -> StallingProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(stop=True), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._blocked:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        pair = (writer, up_writer)
        self._connections.add(pair)
        await asyncio.gather(self._pump(reader, up_writer, pair), self._pump(up_reader, writer, pair),
                             return_exceptions=True)
        self._connections.discard(pair)
        for w in pair:
            w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while id(pair) in self._stalled:
                # Stalled: hold the bytes and the socket, forward nothing, close nothing.
                await asyncio.sleep(0.2)
                if pair not in self._connections:
                    return
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    async def _close_all(self, stop: bool = False) -> None:
        for pair in list(self._connections):
            self._connections.discard(pair)
            for w in pair:
                w.close()
        self._stalled.clear()
        if stop and self._server is not None:
            self._server.close()

    def _run(self, fn: Callable[[], None]) -> None:
        async def call() -> None:
            fn()
        asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def stall(self) -> int:
        """Stall every open connection; returns how many."""
        count = 0

        def do() -> None:
            nonlocal count
            self._stalled.update(id(pair) for pair in self._connections)
            count = len(self._connections)
        self._run(do)
        return count

    def open_connections(self) -> int:
        return len(self._connections)

    def block(self) -> None:
        """Close every connection and refuse new ones (as if the API server were unreachable)."""
        self._blocked = True
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(timeout=10)

    def unblock(self) -> None:
        self._blocked = False

    def release_stalled(self) -> None:
        """Close the stalled connections (cleanup)."""
        async def close() -> None:
            for pair in [p for p in self._connections if id(p) in self._stalled]:
                self._connections.discard(pair)
                for w in pair:
                    w.close()
            self._stalled.clear()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)


def proxied_kubeconfig(kubeconfig: Path, proxy_port: int, path: Path) -> Path:
    """A copy of ``kubeconfig`` whose server is the proxy (same CA and credentials: TLS goes through the proxy)."""
    document = yaml.safe_load(kubeconfig.read_text())
    for cluster in document["clusters"]:
        server = cluster["cluster"]["server"]
        cluster["cluster"]["server"] = re.sub(r":\d+$", f":{proxy_port}", server)
    path.write_text(yaml.safe_dump(document))
    return path


def apiserver_port(kubeconfig: Path) -> int:
    document = yaml.safe_load(kubeconfig.read_text())
    return int(document["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- reading the cluster -------------------------------------------------------------------------------------------


def list_objects(admin: ApiClient, namespace: str, kind: str) -> list[dict[str, Any]]:
    api = kubernetes.client.CustomObjectsApi(admin)
    items: list[dict[str, Any]] = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[kind])["items"]
    return items


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for entry in obj.get("status", {}).get("conditions", []):
        if entry.get("type") == kind:
            return dict(entry)
    return {}


def is_true(obj: dict[str, Any], kind: str, reason: str | None = None) -> bool:
    """Condition ``kind`` is True for the object's current generation (and has ``reason`` if given)."""
    entry = condition(obj, kind)
    return (entry.get("status") == "True" and entry.get("observedGeneration") == obj["metadata"]["generation"]
            and (reason is None or entry.get("reason") == reason))


# --- counting what the emulator created ----------------------------------------------------------------------------

CREATES = {"CreateModel": "ModelName", "CreateEndpointConfig": "EndpointConfigName", "CreateEndpoint": "EndpointName",
           "CreateInferenceComponent": "InferenceComponentName"}


@dataclass
class CreationLog:
    """Every successful Create* the emulator served, by (operation, name): wraps the emulator's handlers in-process."""

    created: Counter[tuple[str, str]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, emulator: EmulatorThread, monkeypatch: Any) -> CreationLog:
        handlers = emulator.emulator.sagemaker.handlers
        for operation, member in CREATES.items():
            original = handlers[operation]

            def wrapped(ctx: Any, params: dict[str, Any], _original: Any = original, _op: str = operation,
                        _member: str = member) -> Any:
                result = _original(ctx, params)  # raises on failure: only successes are recorded
                with self.lock:
                    self.created[(_op, str(params.get(_member, "")).lower())] += 1
                return result

            monkeypatch.setitem(handlers, operation, wrapped)
        return self

    def twice(self, allowed: dict[str, int] | None = None) -> dict[tuple[str, str], int]:
        """Names created more often than ``allowed[operation]`` (default once)."""
        allowed = allowed or {}
        with self.lock:
            return {key: n for key, n in self.created.items() if n > allowed.get(key[0], 1)}

    def count(self, operation: str) -> int:
        with self.lock:
            return sum(n for (op, _), n in self.created.items() if op == operation)


def successful_calls(counters: dict[str, Any], operation: str) -> int:
    return int(counters["operations"].get(operation, 0)) - sum(
        int(n) for n in counters.get("operation_errors", {}).get(operation, {}).values())


# --- churn ---------------------------------------------------------------------------------------------------------


def churn_model(name: str, tag: str) -> dict[str, Any]:
    return model_spec(f"{IMAGE}-{name}:{tag}")


def create_chain(objects: Objects, name: str, tag: str = "1", endpoint_extra: dict[str, Any] | None = None) -> None:
    """A model, a config using it and an endpoint using that, all named ``name``."""
    objects.create(MODEL, name, churn_model(name, tag))
    objects.create(CONFIG, name, config_spec(("primary", name, 1.0, 1)))
    objects.create(ENDPOINT, name, {"endpointConfigRef": {"name": name}, **(endpoint_extra or {})})


def churn_config(name: str, weight: float = 1.0, count: int = 1) -> dict[str, Any]:
    return {"productionVariants": [{"variantName": "primary", "modelRef": {"name": name}, "instanceType": "ml.m5.large",
                                    "initialVariantWeight": weight, "initialInstanceCount": count}]}


@dataclass
class ChurnEndpoint:
    """One endpoint's way through the churn: create, new model, new weights, delete, recreate."""

    name: str
    step: int = 0
    since: float = 0.0
    durations: dict[str, float] = field(default_factory=dict)


STEPS = ("create", "update-model", "update-weights", "delete", "recreate", "done")


class Churn:
    """Drives ``count`` endpoints through create -> update model -> update weights -> delete -> recreate under the
    same name, all at once, advancing each one as soon as the operator reports the previous step done.

    Progress is read with one list call per kind per round (never one get per object)."""

    def __init__(self, admin: ApiClient, namespace: str, count: int, prefix: str = "c",
                 seed: int | None = None) -> None:
        self.api = kubernetes.client.CustomObjectsApi(admin)
        self.namespace = namespace
        self.endpoints = [ChurnEndpoint(f"{prefix}{i:03d}") for i in range(count)]
        self.rng = random.Random(seed)
        self.started = 0.0
        self.finished = 0.0

    def _body(self, kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}

    def _create_chain(self, name: str, tag: str) -> None:
        for kind, spec in ((MODEL, churn_model(name, tag)), (CONFIG, churn_config(name)),
                           (ENDPOINT, {"endpointConfigRef": {"name": name}})):
            try:
                self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind],
                                                         self._body(kind, name, spec))
            except ApiException as error:
                if error.status != 409:  # already created by an earlier round
                    raise

    def _patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name, patch)

    def _delete(self, kind: str, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)

    def _snapshot(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {kind: {o["metadata"]["name"]: o for o in self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind])["items"]} for kind in (MODEL, CONFIG, ENDPOINT)}

    def _advance(self, ep: ChurnEndpoint, seen: dict[str, dict[str, dict[str, Any]]], now: float) -> None:
        name = ep.name
        endpoint = seen[ENDPOINT].get(name)
        step = STEPS[ep.step]

        def ready() -> bool:
            return endpoint is not None and is_true(endpoint, "Ready")

        def done(next_step: int) -> None:
            ep.durations[step] = now - ep.since
            ep.step, ep.since = next_step, now

        if step == "create" and ready():
            self._patch(MODEL, name, {"spec": {"primaryContainer": {"image": f"{IMAGE}-{name}:2"}}})
            done(1)
        elif step == "update-model" and ready() and endpoint is not None:
            model = seen[MODEL].get(name, {}).get("status", {}).get("modelName", "")
            config = seen[CONFIG].get(name, {})
            if (is_true(seen[MODEL].get(name, {"metadata": {"generation": -1}}), "Ready")
                    and model.startswith(name) and config.get("status", {}).get("modelNames") == [model]
                    and endpoint["status"].get("currentEndpointConfigName")
                    == config["status"].get("endpointConfigName")):
                self._patch(CONFIG, name, {"spec": churn_config(name, weight=0.8, count=2)})
                done(2)
        elif step == "update-weights" and ready() and endpoint is not None:
            variants = endpoint["status"].get("productionVariants") or [{}]
            if variants[0].get("currentInstanceCount") == 2:
                for kind in (ENDPOINT, CONFIG, MODEL):
                    self._delete(kind, name)
                done(3)
        elif step == "delete" and all(name not in seen[kind] for kind in (MODEL, CONFIG, ENDPOINT)):
            self._create_chain(name, "3")
            done(4)
        elif step == "recreate" and ready():
            done(5)

    def run(self, timeout: float, on_round: Callable[[], None] | None = None) -> None:
        """Run the churn to the end, or fail naming the endpoints still under way after ``timeout`` seconds."""
        self.started = time.monotonic()
        order = list(self.endpoints)
        self.rng.shuffle(order)
        for ep in order:
            self._create_chain(ep.name, "1")
            ep.since = time.monotonic()

        def round_() -> bool:
            if on_round is not None:
                on_round()
            seen = self._snapshot()
            now = time.monotonic()
            for ep in self.endpoints:
                if STEPS[ep.step] != "done":
                    self._advance(ep, seen, now)
            return all(STEPS[ep.step] == "done" for ep in self.endpoints)

        try:
            wait_for(round_, timeout=timeout, interval=0.5, what=f"a churn of {len(self.endpoints)} endpoints")
        except AssertionError as error:
            pending = Counter(STEPS[ep.step] for ep in self.endpoints if STEPS[ep.step] != "done")
            stuck = [ep.name for ep in self.endpoints if STEPS[ep.step] != "done"][:10]
            raise AssertionError(f"{error}; still under way by step: {dict(pending)}; e.g. {stuck}") from None
        self.finished = time.monotonic()

    def expected_endpoint_names(self) -> set[str]:
        return {ep.name for ep in self.endpoints}

    def summary(self) -> dict[str, float]:
        """Median seconds per step, and the whole churn."""
        result: dict[str, float] = {"total": self.finished - self.started}
        for step in STEPS[:-1]:
            values = sorted(ep.durations[step] for ep in self.endpoints if step in ep.durations)
            if values:
                result[f"{step}.median"] = round(values[len(values) // 2], 2)
                result[f"{step}.max"] = round(values[-1], 2)
        return result


@contextlib.contextmanager
def faults(emulator: EmulatorThread, **settings: Any) -> Iterator[None]:
    """AWS faults on every call for the duration of the block."""
    emulator.admin.set_fault("*", **settings)
    try:
        yield
    finally:
        emulator.admin.clear_faults()
