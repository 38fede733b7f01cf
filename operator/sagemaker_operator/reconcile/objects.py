"""Snapshots of custom resources and the references between them, as the reconcilers see them."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator.api import kinds, rules
from sagemaker_operator.api.kinds import GROUP, VERSION

__all__ = ["ENDPOINT", "ENDPOINT_CONFIG", "GROUP", "INFERENCE_COMPONENT", "MODEL", "PLURALS", "TRANSFORM_JOB",
           "VERSION"]

# The kinds by name, as the reconcilers key objects; everything about them is declared once, in api/kinds.py.
MODEL = kinds.MODEL.kind
ENDPOINT_CONFIG = kinds.ENDPOINT_CONFIG.kind
ENDPOINT = kinds.ENDPOINT.kind
INFERENCE_COMPONENT = kinds.INFERENCE_COMPONENT.kind
TRANSFORM_JOB = kinds.TRANSFORM_JOB.kind
PLURALS = {kind.kind: kind.plural for kind in kinds.KINDS}
FINALIZER = kinds.FINALIZER
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
        """Build a snapshot from a raw Kubernetes object.

        Spec and status are deep-copied (the watch may reuse its structures, see :func:`compact_copy`); nothing else
        of the body is kept, and copying only these is most of the cost of a watch event saved (managedFields alone
        outweigh the rest).
        """
        metadata = body.get("metadata") or {}
        return cls(
            kind=str(body.get("kind", "")),
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            generation=int(metadata.get("generation", 0) or 0),
            resource_version=str(metadata.get("resourceVersion", "")),
            spec=compact_copy(dict(body.get("spec") or {})),
            status=compact_copy(dict(body.get("status") or {})),
            annotations={str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
            finalizers=tuple(metadata.get("finalizers") or ()),
            deleting=bool(metadata.get("deletionTimestamp")),
            created=str(metadata.get("creationTimestamp") or ""),
        )


# Strings up to this length are interned when stored: keys, states, reasons and names repeat across objects.
INTERNED_LENGTH = 64


def compact_copy(value: Any) -> Any:
    """A deep copy of decoded JSON whose keys and short strings are interned: one string object per distinct key or
    word across all stored objects, instead of one per occurrence (every JSON document decodes its own). For the
    store, which holds every object's spec and status for as long as the object exists: about a third less memory,
    and faster than ``copy.deepcopy``, which has to track shared references JSON cannot have."""
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: compact_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact_copy(v) for v in value]
    if isinstance(value, str) and len(value) <= INTERNED_LENGTH:
        return sys.intern(value)
    return value


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


_INDICES = ("model-users", "config-users", "endpoint-components", "endpoint-claims", "models-in-use",
            "configs-in-use")


def references(obj: KubeObject) -> set[ObjectRef]:
    """The objects ``obj``'s spec references: a config's models, an endpoint's config, a component's endpoint and
    model, a transform job's model. The one source of these for the store's reverse indices and the controller's
    wake-ups alike."""
    ns, spec = obj.namespace, obj.spec
    if obj.kind == ENDPOINT_CONFIG:
        return {ObjectRef(MODEL, ns, name) for name in model_refs(spec)}
    if obj.kind == ENDPOINT:
        config = config_ref(spec)
        return {ObjectRef(ENDPOINT_CONFIG, ns, config)} if config else set()
    if obj.kind == INFERENCE_COMPONENT:
        endpoint, model = component_refs(spec)
        return ({ObjectRef(ENDPOINT, ns, endpoint)} if endpoint else set()) | (
            {ObjectRef(MODEL, ns, model)} if model else set())
    if obj.kind == TRANSFORM_JOB:
        model = (spec.get("modelRef") or {}).get("name")
        return {ObjectRef(MODEL, ns, str(model))} if model else set()
    return set()


# The reverse index of each kind of reference: who uses a model, who uses a config, what runs on an endpoint.
_USERS_INDEX = {MODEL: "model-users", ENDPOINT_CONFIG: "config-users", ENDPOINT: "endpoint-components"}


def _index_keys(obj: KubeObject) -> dict[str, set[Any]]:
    """The keys under which ``obj`` is found in each reverse index."""
    keys: dict[str, set[Any]] = {name: set() for name in _INDICES}
    for ref in references(obj):
        keys[_USERS_INDEX[ref.kind]].add((ref.namespace, ref.name))
    spec, status = obj.spec, obj.status
    if obj.kind == ENDPOINT_CONFIG:
        keys["models-in-use"] = set(_literal_model_names(spec))
        for revision in status.get("revisions") or ():
            keys["models-in-use"].update(str(name) for name in revision.get("modelNames") or ())
    elif obj.kind == INFERENCE_COMPONENT:
        keys["models-in-use"] = {str(name) for name in status.get("modelNames") or ()}
    elif obj.kind == TRANSFORM_JOB:
        if status.get("modelName") and not status.get("finished"):
            # A run in progress uses its model revision: it is not collected under it.
            keys["models-in-use"] = {str(status["modelName"])}
    elif obj.kind == ENDPOINT:
        keys["endpoint-claims"] = {rules.ENDPOINT_NAME.of(spec, obj.name)}
        keys["configs-in-use"] = {str(status[key]) for key in ("currentEndpointConfigName", "desiredEndpointConfigName")
                                  if status.get(key)}
        if spec.get("endpointConfigName"):
            keys["configs-in-use"].add(str(spec["endpointConfigName"]))
    return keys


@dataclass
class ObjectStore:
    """The latest snapshot of every watched custom resource, with reverse look-ups along references.

    Fed by the watch handlers; read by the reconcilers. Reverse indices are kept up to date on every put and
    remove (each object's index keys are recomputed from its snapshot), so look-ups cost the size of their answer,
    not the number of objects: with thousands of objects, scanning on every event and reconcile made the work grow
    with the square of their number.
    """

    _objects: dict[ObjectRef, KubeObject] = field(default_factory=dict)
    _by_kind: dict[str, dict[ObjectRef, KubeObject]] = field(default_factory=dict)
    # Each object's non-empty index keys, as tuples: most objects are in one or two of the six indices, and six
    # sets per object (empty ones included) were a sixth of the store's memory.
    _keys: dict[ObjectRef, dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    _index: dict[str, dict[Any, set[ObjectRef]]] = field(
        default_factory=lambda: {name: {} for name in _INDICES})

    def put(self, obj: KubeObject) -> KubeObject | None:
        """Store ``obj``; return the snapshot it replaces."""
        previous = self._objects.get(obj.ref)
        self._unindex(obj.ref)
        self._objects[obj.ref] = obj
        self._by_kind.setdefault(obj.kind, {})[obj.ref] = obj
        keys = {name: tuple(values) for name, values in _index_keys(obj).items() if values}
        self._keys[obj.ref] = keys
        for name, values in keys.items():
            for value in values:
                self._index[name].setdefault(value, set()).add(obj.ref)
        return previous

    def remove(self, ref: ObjectRef) -> KubeObject | None:
        """Forget an object that is gone from the cluster."""
        self._unindex(ref)
        self._by_kind.get(ref.kind, {}).pop(ref, None)
        return self._objects.pop(ref, None)

    def _unindex(self, ref: ObjectRef) -> None:
        for name, values in self._keys.pop(ref, {}).items():
            for value in values:
                refs = self._index[name].get(value)
                if refs is not None:
                    refs.discard(ref)
                    if not refs:
                        del self._index[name][value]

    def _lookup(self, index: str, key: Any, kind: str) -> list[KubeObject]:
        return [self._objects[ref] for ref in sorted(self._index[index].get(key, ())) if ref.kind == kind]

    def get(self, ref: ObjectRef) -> KubeObject | None:
        """The latest snapshot of ``ref``, if it exists."""
        return self._objects.get(ref)

    def of_kind(self, kind: str, namespace: str | None = None) -> list[KubeObject]:
        """Every object of a kind, optionally in one namespace."""
        objects = self._by_kind.get(kind, {}).values()
        return [obj for obj in objects if namespace is None or obj.namespace == namespace]

    def configs_referencing_model(self, namespace: str, model: str) -> list[KubeObject]:
        """SageMakerEndpointConfigs in ``namespace`` whose variants reference SageMakerModel ``model``."""
        return self._lookup("model-users", (namespace, model), ENDPOINT_CONFIG)

    def endpoints_referencing_config(self, namespace: str, config: str) -> list[KubeObject]:
        """SageMakerEndpoints in ``namespace`` that reference SageMakerEndpointConfig ``config``."""
        return self._lookup("config-users", (namespace, config), ENDPOINT)

    def components_on_endpoint(self, namespace: str, endpoint: str) -> list[KubeObject]:
        """SageMakerInferenceComponents in ``namespace`` that reference SageMakerEndpoint ``endpoint``."""
        return self._lookup("endpoint-components", (namespace, endpoint), INFERENCE_COMPONENT)

    def components_using_model(self, namespace: str, model: str) -> list[KubeObject]:
        """SageMakerInferenceComponents in ``namespace`` that reference SageMakerModel ``model``."""
        return self._lookup("model-users", (namespace, model), INFERENCE_COMPONENT)

    def transform_jobs_using_model(self, namespace: str, model: str) -> list[KubeObject]:
        """SageMakerTransformJobs in ``namespace`` that reference SageMakerModel ``model``."""
        return self._lookup("model-users", (namespace, model), TRANSFORM_JOB)

    def endpoints_claiming(self, region: str, endpoint_name: str, default_region: str) -> list[KubeObject]:
        """SageMakerEndpoints (any namespace) whose AWS endpoint is ``endpoint_name`` in ``region``."""
        return [e for e in self._lookup("endpoint-claims", endpoint_name, ENDPOINT)
                if str(e.spec.get("region") or default_region) == region]

    def aws_models_in_use(self) -> Collection[str]:
        """AWS model names referenced by an AWS endpoint config revision that a SageMakerEndpointConfig keeps, by a
        literal modelName, by an inference component, or by a transform job's run in progress."""
        return self._index["models-in-use"].keys()

    def aws_configs_in_use(self) -> Collection[str]:
        """AWS endpoint config names an endpoint runs on, is moving to, or is asked to use."""
        return self._index["configs-in-use"].keys()


def _literal_model_names(config_spec: Mapping[str, Any]) -> Iterator[str]:
    for group in ("productionVariants", "shadowProductionVariants"):
        for variant in config_spec.get(group) or ():
            if (variant or {}).get("modelName"):
                yield str(variant["modelName"])
