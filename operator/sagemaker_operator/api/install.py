"""Putting the operator's cluster-wide documents (its CRDs, the finalizer policy) into a cluster, for the development
stack, the benchmark and the tests. Users install them with the chart; the operator itself never does.

One way for every document: create it, or replace it at the server's current resourceVersion when it exists, so
that a reused cluster gets the current documents after the generator changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

CRD_API = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")


def create_or_replace(api_client: Any, plural: str, document: Mapping[str, Any]) -> bool:
    """Create the cluster-scoped ``document`` (of the resource ``plural`` in its apiVersion), or replace it where it
    exists; False, with nothing written, where the API server does not serve that resource (404).

    Any refusal other than "exists" raises the client's ApiException, whose body names what the server refused.
    """
    import kubernetes  # only the development tools install documents; the operator never imports this module

    api = kubernetes.client.CustomObjectsApi(api_client)
    group, version = str(document["apiVersion"]).split("/")
    name = str(document["metadata"]["name"])
    try:
        api.create_cluster_custom_object(group, version, plural, dict(document))
    except kubernetes.client.ApiException as error:
        if error.status == 404:
            return False
        if error.status != 409:
            raise
        current: Any = api.get_cluster_custom_object(group, version, plural, name)
        metadata = {**document["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
        api.replace_cluster_custom_object(group, version, plural, name, {**document, "metadata": metadata})
    return True


def install_crds(api_client: Any, documents: Iterable[Mapping[str, Any]], *, timeout: float = 60.0,
                 between_checks: Callable[[], None] | None = None) -> list[str]:
    """Create or replace each CRD of ``documents`` and wait until every one is Established; their names.

    ``between_checks`` runs while waiting (the development stack checks that its servers are still alive). Raises
    TimeoutError naming the first CRD not Established within ``timeout`` seconds.
    """
    import kubernetes

    group, version, plural = CRD_API
    names = []
    for document in documents:
        if not create_or_replace(api_client, plural, document):
            raise RuntimeError(f"the API server does not serve {group}/{version} {plural}")
        names.append(str(document["metadata"]["name"]))
    api: Any = kubernetes.client.CustomObjectsApi(api_client)
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(api.get_cluster_custom_object(group, version, plural, name)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} was not Established within {timeout:.0f} s")
            if between_checks is not None:
                between_checks()
            time.sleep(0.1)
    return names


def _established(crd: Mapping[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
