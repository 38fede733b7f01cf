"""The operator's Kubernetes writer against a real API server: the start-up fill reads every object, page by page."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes.client import ApiClient

from sagemaker_operator.kube import KubeWriter
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
