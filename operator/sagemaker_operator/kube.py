"""Writes to the Kubernetes API: status, the operator's finalizer, and events. Reads come from kopf's watches.

The operator never writes ``spec``, so GitOps tools see no diff after a sync. Every write names the operator as its
field manager (FIELD_MANAGER): without it the API server records the client library's User-Agent prefix
("OpenAPI-Generator"), the same name as any other tool built on the Kubernetes Python client, and managedFields could
not tell the operator's fields (finalizer, status) from theirs.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import json
import logging
import os
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.metrics import K8S_WRITES
from sagemaker_operator.reconcile.objects import FINALIZER, GROUP, PLURALS, VERSION, KubeObject, ObjectRef
from sagemaker_operator.status import EventRecord

logger = logging.getLogger(__name__)
COMPONENT = "sagemaker-operator"
FIELD_MANAGER = COMPONENT  # metadata.managedFields[].manager of everything the operator writes


WRITE_TIMEOUT = urllib3.Timeout(connect=5.0, read=15.0)
# How long one answer of the client configuration's token refresh hook is used for. The hook renews tokens well
# before they expire (the kubeconfig loader five minutes early; in-cluster tokens are read again every minute), and
# each call of it re-applies the whole kubeconfig to the configuration: once per write, that was a fiftieth of the
# operator's CPU while it created a thousand endpoints.
AUTH_REUSE_SECONDS = 10.0
# Events wait while the controller has work queued, each at most this long; at most this many wait; posted this many
# at a time.
EVENT_DELAY_MAX = 10.0
EVENT_RECHECK_SECONDS = 0.25
EVENT_BACKLOG = 10_000
EVENT_POSTERS = 4
LIST_PAGE = 100  # objects per LIST request when the operator fills its store


class KubeUnavailable(Exception):
    """The API server did not answer a write in time (or the connection broke): retried with backoff."""


class Conflict(Exception):
    """The object changed under us (or is gone); the watch brings the new version and it is reconciled again."""


def load_client_configuration(connections: int | None = None) -> kubernetes.client.ApiClient:
    """An API client from the in-cluster service account, else from KUBECONFIG / ~/.kube/config.

    ``connections``: how many requests may be under way at once (the writer's threads). The client's default pool
    (5 per core) is smaller than the writer's thread count on small nodes; urllib3 then opens a connection per extra
    request and throws it away afterwards, a TLS handshake each time.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        # The client computes its default path from KUBECONFIG at import; `run --kubeconfig` sets it later.
        path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        kubernetes.config.load_kube_config(config_file=path,  # type: ignore[no-untyped-call]
                                           client_configuration=configuration)
    if connections is not None:
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize, connections)
    return kubernetes.client.ApiClient(configuration)


class KubeWriter:
    """The operator's only writer to the Kubernetes API.

    ``fence``, under leader election, raises unless this process holds the lease; it is called right before every
    write (in the thread that sends it), a second line behind the workers being stopped when the lease is lost.
    """

    def __init__(self, api_client: kubernetes.client.ApiClient, fence: Callable[[], None] | None = None, *,
                 concurrency: int = 16, list_page: int = LIST_PAGE) -> None:
        self._objects = kubernetes.client.CustomObjectsApi(api_client)
        self._configuration = api_client.configuration
        # Writes go straight to the client's connection pool, which carries its TLS and client-certificate set-up:
        # the generated API methods validate their arguments with pydantic and build every request through several
        # layers of generic code, which cost more CPU than the write itself at thousands of writes a minute.
        self._pool: urllib3.PoolManager = api_client.rest_client.pool_manager
        self._host = str(self._configuration.host).rstrip("/")
        self._headers = {**api_client.default_headers, "Accept": "application/json"}
        self._fence = fence
        self._auth_header: tuple[float, dict[str, str]] | None = None  # (monotonic time asked, header)
        # Its own threads: asyncio's default pool has cores + 4 of them, which made six writes at a time the pace
        # of every reconcile on a two-core node while the API server could take many more.
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kube-write")
        # (object, event, when it happened: monotonic for the wait, wall clock for the event's time)
        self._pending: collections.deque[tuple[KubeObject, EventRecord, float, datetime.datetime]] = \
            collections.deque(maxlen=EVENT_BACKLOG)
        self._posters: set[asyncio.Task[None]] = set()
        self._busy: Callable[[], bool] = lambda: False
        self._flushing = False
        self._list_page = list_page

    def close(self) -> None:
        """Stop the writer's threads (waits for writes under way)."""
        self._executor.shutdown(wait=True)

    async def patch_status(self, ref: ObjectRef, patch: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch the status subresource; returns the object as the API server stored it."""
        return await self._call(ref, "status", "PATCH", f"{_object_path(ref)}/status", {"status": patch},
                                "application/merge-patch+json")

    async def add_finalizer(self, obj: KubeObject) -> dict[str, Any]:
        """Add the operator's finalizer, so AWS resources are cleaned up before the object goes."""
        return await self._set_finalizers(obj, [*obj.finalizers, FINALIZER])

    async def remove_finalizer(self, obj: KubeObject) -> dict[str, Any]:
        """Remove the operator's finalizer: the object may now disappear."""
        return await self._set_finalizers(obj, [f for f in obj.finalizers if f != FINALIZER])

    async def _set_finalizers(self, obj: KubeObject, finalizers: list[str]) -> dict[str, Any]:
        # A JSON patch guarded by resourceVersion: never drop a finalizer someone else added meanwhile.
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version},
            {"op": "replace" if obj.finalizers else "add", "path": "/metadata/finalizers", "value": finalizers},
        ]
        # A failed "test" answers 422: the object changed, which is a conflict like any other.
        return await self._call(obj.ref, "finalizers", "PATCH", _object_path(obj.ref), patch,
                                "application/json-patch+json", conflicts=(404, 409, 422))

    def defer_events_while(self, busy: Callable[[], bool]) -> None:
        """Hold events back while ``busy()`` (the controller's queue has work waiting), each for at most
        EVENT_DELAY_MAX seconds: events are best effort and must not slow down the work they describe. When every
        model changes at once they were a third of the operator's writes before the endpoints' updates."""
        self._busy = busy

    def post_event_soon(self, obj: KubeObject, record: EventRecord) -> None:
        """Post an event without making the caller wait for it (see :meth:`defer_events_while`); a reconcile that
        waited for its events would hold its worker for one more API round trip per event. At most EVENT_BACKLOG
        wait; beyond that the oldest is dropped, with a warning that names its object."""
        if len(self._pending) == self._pending.maxlen:
            dropped, dropped_record, _, _ = self._pending.popleft()
            logger.warning("event %s for %s dropped: %d events wait to be posted", dropped_record.reason, dropped.ref,
                           len(self._pending))
        self._pending.append((obj, record, time.monotonic(), datetime.datetime.now(datetime.UTC)))
        while len(self._posters) < min(EVENT_POSTERS, len(self._pending)):
            task = asyncio.create_task(self._post_pending(), name="post-events")
            self._posters.add(task)
            task.add_done_callback(self._posters.discard)

    async def _post_pending(self) -> None:
        while self._pending:
            obj, record, queued, happened = self._pending[0]
            held = time.monotonic() - queued
            if not self._flushing and held < EVENT_DELAY_MAX and self._busy():
                await asyncio.sleep(min(EVENT_RECHECK_SECONDS, EVENT_DELAY_MAX - held))
                continue
            self._pending.popleft()
            try:
                # Stamped when it happened, not when its turn came.
                await self.post_event(obj, record, at=happened)
            except Exception as error:
                # A lost lease (the fence) or anything unexpected: the event is dropped, the reconcile is unaffected.
                logger.warning("could not post event %s for %s: %s", record.reason, obj.ref, error)

    def discard_events(self) -> None:
        """Forget the events not posted yet (the lease was lost: this process may not write any more)."""
        self._pending.clear()

    async def flush_events(self) -> None:
        """Post every event held back, and wait for those under way (at shutdown, before the lease is released)."""
        self._flushing = True
        try:
            while self._posters:
                await asyncio.gather(*list(self._posters), return_exceptions=True)
        finally:
            self._flushing = False

    async def post_event(self, obj: KubeObject, record: EventRecord, at: datetime.datetime | None = None) -> None:
        """Post a Kubernetes Event about ``obj``, stamped ``at`` (default: now); failures are logged, never raised
        (events are best effort)."""
        now = (at or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        # A plain body, and the answer read but not turned into the client's models: an event is posted for most
        # changes, and building those models both ways cost more than the request itself.
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{obj.name}.{uuid.uuid4().hex[:12]}", "namespace": obj.namespace},
            "involvedObject": {"apiVersion": f"{GROUP}/{VERSION}", "kind": obj.kind, "name": obj.name,
                               "namespace": obj.namespace, "uid": obj.uid, "resourceVersion": obj.resource_version},
            "reason": record.reason, "message": record.message[:1024],
            "type": "Warning" if record.warning else "Normal",
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
        }

        try:
            await self._call(obj.ref, "event", "POST", f"/api/v1/namespaces/{_quote(obj.namespace)}/events", body,
                             "application/json", answer=False)
        except ApiException as error:
            if error.status == 403 and "being terminated" in str(error.body):
                # The namespace is being deleted, with the object: nobody will read the event, and the API server
                # takes no new object there.
                logger.debug("event %s for %s not posted: its namespace is being deleted", record.reason, obj.ref)
                return
            logger.warning("could not post event %s for %s: %s", record.reason, obj.ref, error)
        except (Conflict, KubeUnavailable) as error:
            logger.warning("could not post event %s for %s: %s", record.reason, obj.ref, error)

    async def _call(self, ref: ObjectRef, what: str, method: str, path: str, body: Any, content_type: str, *,
                    conflicts: tuple[int, ...] = (404, 409), answer: bool = True) -> dict[str, Any]:
        """Send one write (``fieldManager`` set) and return the object the API server answers (``{}`` if not
        ``answer``). 404/409 (and ``conflicts``) raise :class:`Conflict`, other refusals ``ApiException``, a broken
        or silent connection :class:`KubeUnavailable`."""
        fence = self._fence
        if fence is not None:
            fence()
        url = f"{self._host}{path}?fieldManager={FIELD_MANAGER}"
        payload = json.dumps(body, separators=(",", ":")).encode()

        def send() -> tuple[int, str, bytes, dict[str, str]]:
            if fence is not None:
                fence()  # again at the last moment: the thread may have waited for a free slot
            auth = self._auth()
            headers = {**self._headers, "Content-Type": content_type, **auth}
            # A deadline on every write: a connection that stops answering (a half-dead load balancer) must not
            # hold a worker forever.
            response = self._pool.request(method, url, body=payload, headers=headers, timeout=WRITE_TIMEOUT,
                                          preload_content=False)
            try:
                # Read whole even when not wanted: a connection handed back with its answer unread would give the
                # rest of that answer to the next request as its status line.
                return response.status, str(response.reason), response.read(), auth
            finally:
                response.release_conn()

        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                status, reason, data, sent = await loop.run_in_executor(self._executor, send)
            except urllib3.exceptions.HTTPError as error:
                raise KubeUnavailable(f"{what} of {ref}: {type(error).__name__}: {error}") from error
            if status != 401 or attempt == 2:
                break
            # The token was refused (revoked, or rotated early), so nothing was written: ask the configuration
            # again and send once more. Only the header this write sent is forgotten, not a newer one.
            cached = self._auth_header
            if cached is not None and cached[1] is sent:
                self._auth_header = None
        if status in conflicts:
            raise Conflict(f"{what} of {ref}: {status} {reason}")
        if not 200 <= status < 300:
            refused = ApiException(status=status, reason=reason)
            refused.body = data.decode(errors="replace")
            raise refused
        K8S_WRITES.labels(ref.kind, what).inc()
        if not answer:
            return {}
        result = json.loads(data)
        return result if isinstance(result, dict) else {}

    def _auth(self) -> dict[str, str]:
        """The Authorization header, asked of the client's configuration at most every ``AUTH_REUSE_SECONDS``: its
        refresh hook renews the token (in-cluster service-account tokens rotate; EKS tokens last 15 minutes).
        Client certificates, the other way to authenticate, are set on the connection pool."""
        now = time.monotonic()
        cached = self._auth_header
        if cached is not None and now - cached[0] < AUTH_REUSE_SECONDS:
            return cached[1]
        token = self._configuration.auth_settings().get("BearerToken")
        header = {"Authorization": token["value"]} if token and token.get("value") else {}
        # One tuple, replaced whole: writer threads read it without a lock.
        self._auth_header = (now, header)
        return header

    async def list_pages(self, plural: str, namespace: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        """Every object of one of the operator's kinds, in a namespace or cluster-wide (for the start-up fill), by
        the page.

        ``list_page`` objects per request, each page handed over before the next is read: one answer for thousands of
        objects, managedFields and all, is tens of megabytes of JSON decoded at once, and the process keeps such a
        peak as resident memory.
        """
        token: str | None = None
        while True:
            paging: dict[str, Any] = {"limit": self._list_page, **({"_continue": token} if token else {})}
            if namespace:
                listing: Any = await asyncio.to_thread(self._objects.list_namespaced_custom_object, GROUP, VERSION,
                                                       namespace, plural, **paging)
            else:
                listing = await asyncio.to_thread(self._objects.list_cluster_custom_object, GROUP, VERSION, plural,
                                                  **paging)
            token = (listing.get("metadata") or {}).get("continue") or None
            yield list(listing.get("items", []))
            if not token:
                return


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _object_path(ref: ObjectRef) -> str:
    """The API path of one of the operator's objects."""
    return (f"/apis/{GROUP}/{VERSION}/namespaces/{_quote(ref.namespace)}/{PLURALS[ref.kind]}/"
            f"{_quote(ref.name)}")
