"""Snapshots of custom resources and the references between them, as the reconcilers see them."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

GROUP = "sagemaker.operator.dev"
VERSION = "v1alpha1"
MODEL = "SageMakerModel"
ENDPOINT_CONFIG = "SageMakerEndpointConfig"
ENDPOINT = "SageMakerEndpoint"
INFERENCE_COMPONENT = "SageMakerInferenceComponent"
PLURALS = {MODEL: "sagemakermodels", ENDPOINT_CONFIG: "sagemakerendpointconfigs", ENDPOINT: "sagemakerendpoints",
           INFERENCE_COMPONENT: "sagemakerinferencecomponents"}
FINALIZER = f"{GROUP}/finalizer"
RETRY_ANNOTATION = f"{GROUP}/retry"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Which custom resource: kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class KubeObject:
    """An immutable snapshot of one custom resource, taken from the watch stream."""

    kind: str
    namespace: str
    name: str
    uid: str
    generation: int
    resource_version: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str]
    finalizers: tuple[str, ...]
    deleting: bool
    created: str = ""

    @property
    def ref(self) -> ObjectRef:
        """The object's reference."""
        return ObjectRef(self.kind, self.namespace, self.name)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> KubeObject:
        """Build a snapshot from a raw Kubernetes object (deep-copied: the watch may reuse its structures)."""
        body = copy.deepcopy(dict(body))
        metadata = body.get("metadata", {})
        return cls(
            kind=str(body.get("kind", "")),
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            generation=int(metadata.get("generation", 0) or 0),
            resource_version=str(metadata.get("resourceVersion", "")),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            finalizers=tuple(metadata.get("finalizers") or ()),
            deleting=bool(metadata.get("deletionTimestamp")),
            created=str(metadata.get("creationTimestamp") or ""),
        )


def model_refs(config_spec: Mapping[str, Any]) -> Iterator[str]:
    """Names of the SageMakerModels an endpoint config spec references (production and shadow variants)."""
    for group in ("productionVariants", "shadowProductionVariants"):
        for variant in config_spec.get(group) or ():
            ref = (variant or {}).get("modelRef") or {}
            if ref.get("name"):
                yield str(ref["name"])


def component_refs(component_spec: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(SageMakerEndpoint name, SageMakerModel name) an inference component spec references, if any."""
    endpoint = (component_spec.get("endpointRef") or {}).get("name")
    model = ((component_spec.get("specification") or {}).get("modelRef") or {}).get("name")
    return (str(endpoint) if endpoint else None, str(model) if model else None)


def config_ref(endpoint_spec: Mapping[str, Any]) -> str | None:
    """Name of the SageMakerEndpointConfig an endpoint spec references, if it uses a reference."""
    ref = endpoint_spec.get("endpointConfigRef") or {}
    return str(ref["name"]) if ref.get("name") else None


@dataclass
class ObjectStore:
    """The latest snapshot of every watched custom resource, with reverse look-ups along references.

    Fed by the watch handlers; read by the reconcilers. A scan per look-up is fast enough for thousands of objects
    and cannot go stale the way a hand-maintained reverse index can.
    """

    _objects: dict[ObjectRef, KubeObject] = field(default_factory=dict)

    def put(self, obj: KubeObject) -> KubeObject | None:
        """Store ``obj``; return the snapshot it replaces."""
        previous = self._objects.get(obj.ref)
        self._objects[obj.ref] = obj
        return previous

    def remove(self, ref: ObjectRef) -> KubeObject | None:
        """Forget an object that is gone from the cluster."""
        return self._objects.pop(ref, None)

    def get(self, ref: ObjectRef) -> KubeObject | None:
        """The latest snapshot of ``ref``, if it exists."""
        return self._objects.get(ref)

    def of_kind(self, kind: str, namespace: str | None = None) -> list[KubeObject]:
        """Every object of a kind, optionally in one namespace."""
        return [obj for ref, obj in self._objects.items()
                if ref.kind == kind and (namespace is None or ref.namespace == namespace)]

    def configs_referencing_model(self, namespace: str, model: str) -> list[KubeObject]:
        """SageMakerEndpointConfigs in ``namespace`` whose variants reference SageMakerModel ``model``."""
        return [c for c in self.of_kind(ENDPOINT_CONFIG, namespace) if model in set(model_refs(c.spec))]

    def endpoints_referencing_config(self, namespace: str, config: str) -> list[KubeObject]:
        """SageMakerEndpoints in ``namespace`` that reference SageMakerEndpointConfig ``config``."""
        return [e for e in self.of_kind(ENDPOINT, namespace) if config_ref(e.spec) == config]

    def components_on_endpoint(self, namespace: str, endpoint: str) -> list[KubeObject]:
        """SageMakerInferenceComponents in ``namespace`` that reference SageMakerEndpoint ``endpoint``."""
        return [c for c in self.of_kind(INFERENCE_COMPONENT, namespace) if component_refs(c.spec)[0] == endpoint]

    def components_using_model(self, namespace: str, model: str) -> list[KubeObject]:
        """SageMakerInferenceComponents in ``namespace`` that reference SageMakerModel ``model``."""
        return [c for c in self.of_kind(INFERENCE_COMPONENT, namespace) if component_refs(c.spec)[1] == model]

    def endpoints_claiming(self, region: str, endpoint_name: str, default_region: str) -> list[KubeObject]:
        """SageMakerEndpoints (any namespace) whose AWS endpoint is ``endpoint_name`` in ``region``."""
        return [e for e in self.of_kind(ENDPOINT)
                if str(e.spec.get("endpointName") or e.name) == endpoint_name
                and str(e.spec.get("region") or default_region) == region]

    def aws_models_in_use(self) -> set[str]:
        """AWS model names referenced by any AWS endpoint config revision that a SageMakerEndpointConfig keeps."""
        names: set[str] = set()
        for config in self.of_kind(ENDPOINT_CONFIG):
            for revision in config.status.get("revisions") or ():
                names.update(revision.get("modelNames") or ())
            names.update(_literal_model_names(config.spec))
        for component in self.of_kind(INFERENCE_COMPONENT):
            names.update(component.status.get("modelNames") or ())
        return names

    def aws_configs_in_use(self) -> set[str]:
        """AWS endpoint config names an endpoint runs on, is moving to, or is asked to use."""
        names: set[str] = set()
        for endpoint in self.of_kind(ENDPOINT):
            for key in ("currentEndpointConfigName", "desiredEndpointConfigName"):
                if endpoint.status.get(key):
                    names.add(str(endpoint.status[key]))
            if endpoint.spec.get("endpointConfigName"):
                names.add(str(endpoint.spec["endpointConfigName"]))
        return names


def _literal_model_names(config_spec: Mapping[str, Any]) -> Iterator[str]:
    for group in ("productionVariants", "shadowProductionVariants"):
        for variant in config_spec.get(group) or ():
            if (variant or {}).get("modelName"):
                yield str(variant["modelName"])
