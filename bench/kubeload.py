"""The harness's side of the Kubernetes API: bulk create and patch, one watch on the endpoints, cheap lists, and
the invocation probe. Kept light: responses are not deserialized into models, and progress is followed through a
single watch stream instead of polling every object.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import kubernetes
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.reconcile.objects import GROUP, PLURALS, VERSION

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:{tag}"


def names(count: int) -> list[str]:
    """The object names of a run: one model, one config and one endpoint share each name."""
    return [f"b{i:04d}" for i in range(count)]


def manifest(kind: str, name: str, image_tag: int = 1) -> dict[str, Any]:
    """One custom resource of the benchmark: a model, its config (one variant) or its endpoint."""
    if kind == "SageMakerModel":
        spec: dict[str, Any] = {
            "executionRoleArn": "arn:aws:iam::123456789012:role/sagemaker-execution",
            "primaryContainer": {"image": IMAGE.format(tag=image_tag), "modelDataUrl": f"s3://models/{name}.tar.gz"}}
    elif kind == "SageMakerEndpointConfig":
        spec = {"productionVariants": [{"variantName": "AllTraffic", "modelRef": {"name": name},
                                        "initialVariantWeight": 1.0, "initialInstanceCount": 1,
                                        "instanceType": "ml.m5.large"}]}
    else:
        spec = {"endpointConfigRef": {"name": name}}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}


@dataclass(frozen=True)
class Timed:
    """When one request was sent and when its answer came back (wall clock, seconds)."""

    sent: float
    done: float


def bulk(action: Callable[[Any], None], items: Iterable[Any], workers: int) -> list[Timed]:
    """Run ``action`` over ``items`` on a thread pool; the timing of each, in the order of ``items``."""
    def timed(item: Any) -> Timed:
        sent = time.time()
        action(item)
        return Timed(sent, time.time())

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk") as pool:
        return list(pool.map(timed, items))


class Objects:
    """Create, patch and list the benchmark's custom resources in one namespace, without model deserialization."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        self.api = kubernetes.client.CustomObjectsApi(client)
        self.core = kubernetes.client.CoreV1Api(client)
        self.leases = kubernetes.client.CoordinationV1Api(client)
        self.namespace = namespace

    def create_namespace(self) -> None:
        """Create the run's namespace."""
        body = kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=self.namespace))
        self.core.create_namespace(body)

    def hold_lease(self, name: str, holder: str = "bench-harness") -> None:
        """Create the Lease ``name`` held by the harness for an hour: operators electing on it stand by."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body: Any = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": self.namespace},
                     "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600, "acquireTime": now,
                              "renewTime": now, "leaseTransitions": 0}}
        self.leases.create_namespaced_lease(self.namespace, body)

    def release_lease(self, name: str) -> None:
        """Release a Lease as a leader does on SIGTERM (no holder, 1 s): a standby takes it at its next attempt."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch = {"spec": {"holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": now}}
        self.leases.patch_namespaced_lease(name, self.namespace, patch)

    def create(self, body: dict[str, Any]) -> None:
        """Create one object."""
        response = self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[body["kind"]],
                                                            body, _preload_content=False)
        # The answer is not needed, but must be read: a connection returned with its body unread hands the rest
        # of that body to the next request as its status line.
        response.drain_conn()
        response.release_conn()

    def set_image(self, name: str, tag: int) -> None:
        """Merge-patch a model's container image (a spec change)."""
        patch = {"spec": {"primaryContainer": {"image": IMAGE.format(tag=tag)}}}
        response = self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS["SageMakerModel"], name, patch, _preload_content=False,
            _content_type="application/merge-patch+json")
        response.drain_conn()  # see create()
        response.release_conn()

    def versions(self, kind: str) -> dict[str, tuple[str, int]]:
        """(resourceVersion, generation) of every object of a kind."""
        response = self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind],
                                                          _preload_content=False)
        items = json.loads(response.data)["items"]
        return {o["metadata"]["name"]: (o["metadata"]["resourceVersion"], int(o["metadata"].get("generation", 0)))
                for o in items}


def is_ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the object's current generation."""
    generation = obj.get("metadata", {}).get("generation")
    return any(c.get("type") == "Ready" and c.get("status") == "True" and c.get("observedGeneration") == generation
               for c in (obj.get("status") or {}).get("conditions") or ())


@dataclass
class EndpointWatch:
    """Follows every SageMakerEndpoint of a namespace through one watch, recording when each state was first seen.

    - ``ready_on[(name, config)]``: first time the endpoint was Ready, InService, on ``config`` (current = desired);
    - ``update_seen[(name, config)]``: first time ``status.lastDeployment`` named ``config`` as an update (from
      another config) in progress: the operator writes it right after its UpdateEndpoint call returned;
    - ``update_started_at[(name, config)]``: that deployment's ``startedAt`` (whole seconds, taken before the call).
    """

    client: ApiClient
    namespace: str
    current: dict[str, str] = field(default_factory=dict)
    ready_on: dict[tuple[str, str], float] = field(default_factory=dict)
    update_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    update_started_at: dict[tuple[str, str], str] = field(default_factory=dict)
    # Ready endpoints later seen not Ready, with the reason they showed (a restart must not make any flap).
    flaps: list[tuple[float, str, str]] = field(default_factory=list)
    ready_now: dict[str, bool] = field(default_factory=dict)
    events: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: str | None = None

    def start(self) -> None:
        """Start following (a daemon thread)."""
        self._thread = threading.Thread(target=self._run, name="endpoint-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following; the thread ends at its next event or server timeout."""
        self._stop.set()

    def _run(self) -> None:
        api = kubernetes.client.CustomObjectsApi(self.client)
        plural = PLURALS["SageMakerEndpoint"]
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    response = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural,
                                                                 _preload_content=False)
                    listed = json.loads(response.data)
                    for obj in listed["items"]:
                        self._record(obj)
                    version = listed["metadata"]["resourceVersion"]
                watch = kubernetes.watch.Watch()
                for event in watch.stream(api.list_namespaced_custom_object, GROUP, VERSION, self.namespace, plural,
                                          resource_version=version, timeout_seconds=20):
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        version = ""
                        break
                    version = obj["metadata"]["resourceVersion"]
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._record(obj)
                    if self._stop.is_set():
                        watch.stop()
                        break
            except ApiException as error:
                if error.status == 410:
                    version = ""
                    continue
                self.error = str(error)
                time.sleep(1)
            except Exception as error:  # the API server going away at the end of a run
                self.error = repr(error)
                time.sleep(1)

    def _record(self, obj: dict[str, Any]) -> None:
        now = time.time()
        name = obj["metadata"]["name"]
        status = obj.get("status") or {}
        current = status.get("currentEndpointConfigName")
        deployment = status.get("lastDeployment") or {}
        ready = is_ready(obj)
        with self._lock:
            self.events += 1
            if self.ready_now.get(name) and not ready:
                reason = next((str(c.get("reason")) for c in status.get("conditions") or ()
                               if c.get("status") == "True"), "?")
                self.flaps.append((now, name, reason))
            self.ready_now[name] = ready
            if current:
                self.current[name] = str(current)
            if (current and ready and status.get("endpointStatus") == "InService"
                    and current == status.get("desiredEndpointConfigName")):
                self.ready_on.setdefault((name, str(current)), now)
            target = deployment.get("endpointConfigName")
            if target and deployment.get("fromEndpointConfigName") and deployment.get("outcome") == "InProgress":
                key = (name, str(target))
                if key not in self.update_seen:
                    self.update_seen[key] = now
                    self.update_started_at[key] = str(deployment.get("startedAt") or "")

    def snapshot(self) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
        """Copies of (current config per endpoint, ready_on)."""
        with self._lock:
            return dict(self.current), dict(self.ready_on)

    def ready_times(self, wanted: Iterable[str], excluding: dict[str, str] | None = None,
                    since: float = 0.0) -> dict[str, float]:
        """First time each endpoint was seen Ready on a config other than ``excluding[name]``, counting only what
        was seen at or after ``since`` (wall clock)."""
        excluding = excluding or {}
        result: dict[str, float] = {}
        with self._lock:
            for (name, config), seen in self.ready_on.items():
                if seen < since:
                    continue
                if config != excluding.get(name) and (name not in result or seen < result[name]):
                    result[name] = seen
        wanted_set = set(wanted)
        return {k: v for k, v in result.items() if k in wanted_set}

    def update_times(self, wanted: Iterable[str], since: float) -> dict[str, float]:
        """First time each endpoint was seen updating (UpdateEndpoint called) at or after ``since`` (wall clock)."""
        wanted_set = set(wanted)
        result: dict[str, float] = {}
        with self._lock:
            for (name, _), seen in self.update_seen.items():
                if name in wanted_set and seen >= since and (name not in result or seen < result[name]):
                    result[name] = seen
        return result


@dataclass
class Probe:
    """Invokes a sample of endpoints round robin on one kept-alive connection, counting answers that are not 200."""

    emulator_url: str
    endpoints: list[str]
    pause: float = 0.02
    ok: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start invoking (a daemon thread)."""
        self._thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop invoking and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        parts = urlsplit(self.emulator_url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        body = json.dumps({"instances": [[1.0, 2.0]]})
        index = 0
        while not self._stop.is_set():
            name = self.endpoints[index % len(self.endpoints)]
            index += 1
            try:
                connection.request("POST", f"/endpoints/{name}/invocations", body=body,
                                   headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                if response.status == 200:
                    self.ok += 1
                else:
                    self._fail(f"{name}: HTTP {response.status} {payload[:200]!r}")
            except (OSError, http.client.HTTPException) as error:
                self._fail(f"{name}: {error!r}")
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
            self._stop.wait(self.pause)
        with contextlib.suppress(Exception):
            connection.close()

    def _fail(self, message: str) -> None:
        self.failed += 1
        if len(self.failures) < 10:
            self.failures.append(message)
