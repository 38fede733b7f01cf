"""The operator's Kubernetes writer against a real API server: its writes, its refusals, and the start-up fill's
pages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_operator import kube as kube_module
from sagemaker_operator.kube import FIELD_MANAGER, Conflict, KubeWriter
from sagemaker_operator.reconcile.objects import FINALIZER, MODEL, KubeObject, ObjectRef
from sagemaker_operator.status import EventRecord
from tests.conftest import KubeTarget
from tests.operator_harness import Objects, model_spec

pytestmark = pytest.mark.cluster


def test_the_start_up_fill_reads_every_object_by_the_page(admin_client: ApiClient, crds: list[str],
                                                          namespace: str) -> None:
    objects = Objects(admin_client, namespace)
    names = [f"paged-{i}" for i in range(5)]
    for name in names:
        objects.create("SageMakerModel", name, model_spec())
    writer = KubeWriter(admin_client, list_page=2)

    async def pages() -> list[list[str]]:
        return [[item["metadata"]["name"] for item in page]
                async for page in writer.list_pages("sagemakermodels", namespace)]

    try:
        read = asyncio.run(pages())
    finally:
        writer.close()
    assert [len(page) for page in read] == [2, 2, 1]
    assert sorted(name for page in read for name in page) == names


def test_writes_reach_the_api_server_as_the_operator_and_refusals_keep_their_meaning(
        admin_client: ApiClient, crds: list[str], namespace: str) -> None:
    objects = Objects(admin_client, namespace)
    objects.create("SageMakerModel", "written", model_spec())
    writer = KubeWriter(admin_client)
    ref = ObjectRef(MODEL, namespace, "written")

    async def scenario() -> dict[str, Any]:
        current = KubeObject.from_body(objects.get("SageMakerModel", "written") or {})
        if FINALIZER in current.finalizers:  # put there at creation by the finalizer policy (Kubernetes >= 1.36)
            current = KubeObject.from_body(await writer.remove_finalizer(current))
        with_finalizer = KubeObject.from_body(await writer.add_finalizer(current))
        # A stale resourceVersion: someone wrote in between, so the finalizer patch must not land.
        with pytest.raises(Conflict):
            await writer.add_finalizer(current)
        stored = await writer.patch_status(ref, {"region": "us-east-1", "observedGeneration": 1})
        await writer.post_event(with_finalizer, EventRecord("Created", "Created AWS model written-1"))
        # A status the schema refuses: the API server's answer names the field.
        with pytest.raises(ApiException) as refused:
            await writer.patch_status(ref, {"observedGeneration": "one"})
        assert refused.value.status == 422 and "observedGeneration" in str(refused.value.body)
        with pytest.raises(Conflict):
            await writer.patch_status(ObjectRef(MODEL, namespace, "absent"), {"region": "us-east-1"})
        await writer.remove_finalizer(KubeObject.from_body(stored))
        return stored

    try:
        stored = asyncio.run(scenario())
    finally:
        writer.close()
    assert stored["status"]["region"] == "us-east-1" and stored["metadata"]["finalizers"] == [FINALIZER]
    after = objects.get("SageMakerModel", "written") or {}
    assert not after["metadata"].get("finalizers")
    managers = {entry["manager"] for entry in after["metadata"]["managedFields"]}
    assert FIELD_MANAGER in managers
    events = objects.wait_events("written", "Created")
    assert events[0].source.component == FIELD_MANAGER


def test_an_event_for_an_object_in_a_namespace_being_deleted_is_dropped_quietly(
        admin_client: ApiClient, crds: list[str], namespace: str, caplog: pytest.LogCaptureFixture) -> None:
    objects = Objects(admin_client, namespace)
    objects.create("SageMakerModel", "leaving", model_spec())
    obj = KubeObject.from_body(objects.get("SageMakerModel", "leaving") or {})
    kubernetes.client.CoreV1Api(admin_client).delete_namespace(namespace)
    writer = KubeWriter(admin_client)
    try:
        with caplog.at_level(logging.DEBUG, logger="sagemaker_operator.kube"):
            asyncio.run(writer.post_event(obj, EventRecord("Deleted", "Deleted AWS model leaving-1")))
    finally:
        writer.close()
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "being deleted" in caplog.records[0].getMessage()


def test_the_token_is_asked_of_the_refresh_hook_at_most_every_few_seconds(
        kube: KubeTarget, crds: list[str], namespace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking the client configuration for its token re-applies the kubeconfig each time: writes reuse one answer
    for a few seconds. Once they are over the hook is asked again, and a token the API server refuses is asked
    again at once, with the write sent once more."""
    client = kubernetes.config.new_client_from_config(str(kube.kubeconfig))
    good = client.configuration.api_key.get("BearerToken")
    if not good:
        client.close()
        pytest.skip("the cluster's kubeconfig authenticates with a client certificate, not a token")
    Objects(client, namespace).create("SageMakerModel", "authed", model_spec())
    # The tokens the hook hands out, one per ask; the last one again when they run out.
    tokens = [good, "Bearer revoked-token", good]
    asked: list[str] = []

    # In place of the kubeconfig loader's hook (which would put itself back).
    def hook(configuration: kubernetes.client.Configuration) -> None:
        configuration.api_key["BearerToken"] = tokens[min(len(asked), len(tokens) - 1)]
        asked.append("asked")

    client.configuration.refresh_api_key_hook = hook
    writer = KubeWriter(client)
    ref = ObjectRef(MODEL, namespace, "authed")

    async def scenario() -> None:
        for generation in (1, 2, 3):
            await writer.patch_status(ref, {"observedGeneration": generation})
        assert len(asked) == 1
        monkeypatch.setattr(kube_module, "AUTH_REUSE_SECONDS", 0.0)
        # Asked again: a revoked token, refused; asked once more at once, and the write goes through.
        stored = await writer.patch_status(ref, {"observedGeneration": 4})
        assert stored["status"]["observedGeneration"] == 4 and len(asked) == 3
        # A token refused however many times is not retried without end.
        tokens[:] = ["Bearer revoked-token"]
        with pytest.raises(ApiException) as refused:
            await writer.patch_status(ref, {"observedGeneration": 5})
        assert refused.value.status == 401 and len(asked) == 5

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
        client.close()
