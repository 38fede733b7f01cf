"""The in-memory state: plain records keyed by (account, region, kind, name).

Everything runs on the server's event loop thread, so there is no locking. Names are keyed
case-insensitively and ARNs carry the lower-cased name, as SageMaker writes them; the original
spelling is kept for responses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .lifecycle import Deployment

MODEL = "model"
ENDPOINT_CONFIG = "endpoint-config"
ENDPOINT = "endpoint"
INFERENCE_COMPONENT = "inference-component"
SCALABLE_TARGET = "scalable-target"
SCALING_POLICY = "scaling-policy"
TRANSFORM_JOB = "transform-job"

SAGEMAKER_KINDS = (MODEL, ENDPOINT_CONFIG, ENDPOINT, INFERENCE_COMPONENT, TRANSFORM_JOB)


def sagemaker_arn(region: str, account: str, kind: str, name: str) -> str:
    """``arn:aws:sagemaker:REGION:ACCOUNT:KIND/name`` with the name lower-cased, as AWS does."""
    return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name.lower()}"


@dataclass(slots=True)
class Resource:
    """Fields common to every stored resource."""

    kind: str
    name: str
    arn: str
    account: str
    region: str
    created: float
    modified: float
    tags: dict[str, str] = field(default_factory=dict)
    # The Resource Groups Tagging API lists a resource that ever had a tag, with "Tags": [] once all are deleted.
    ever_tagged: bool = False

    def set_tags(self, tags: dict[str, str]) -> None:
        """Replace the tags, remembering that the resource has been tagged if any are given."""
        self.tags = tags
        if tags:
            self.ever_tagged = True


@dataclass(slots=True)
class Model(Resource):
    """A CreateModel request as accepted (minus Tags)."""

    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EndpointConfig(Resource):
    """A CreateEndpointConfig request as accepted (minus Tags)."""

    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Variant:
    """One deployed production (or shadow) variant of an endpoint's fleet."""

    name: str
    model_name: str | None
    instance_type: str | None
    weight: float
    desired_weight: float
    count: int | None
    desired_count: int | None
    serverless: dict[str, Any] | None
    images: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Fleet:
    """What an endpoint serves: the config it came from and its variants."""

    config_name: str
    variants: list[Variant]
    shadow: list[Variant]
    config: dict[str, Any]


@dataclass(slots=True)
class Endpoint(Resource):
    """An endpoint; ``deployment`` is the in-flight operation, if any (see lifecycle)."""

    status: str = "Creating"
    fleet: Fleet | None = None
    failure_reason: str | None = None
    last_deployment_config: dict[str, Any] | None = None
    deployment: Deployment | None = None
    # After UpdateRollbackFailed: the new fleet left half-deployed and its share of the traffic.
    stranded: tuple[Fleet, float] | None = None


@dataclass(slots=True)
class InferenceComponent(Resource):
    """An inference component placed on an endpoint variant."""

    endpoint_name: str = ""
    variant_name: str = ""
    status: str = "Creating"
    spec: dict[str, Any] = field(default_factory=dict)
    copies: int = 0
    desired_copies: int = 0
    failure_reason: str | None = None
    last_deployment_config: dict[str, Any] | None = None
    deployment: Deployment | None = None


@dataclass(slots=True)
class TransformJob(Resource):
    """A batch transform job: InProgress until ``finish_at``, then it runs (once) and ends Completed or Failed;
    StopTransformJob makes it Stopping until ``stop_at``, then Stopped."""

    spec: dict[str, Any] = field(default_factory=dict)
    status: str = "InProgress"
    failure_reason: str | None = None
    # Decided at create (model failure marker, admin trigger); takes effect when the job would have finished.
    failure: str | None = None
    finish_at: float = 0.0
    stop_at: float | None = None
    ended: float | None = None
    instance_id: str = ""
    model_spec: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ScalableTarget(Resource):
    """An Application Auto Scaling scalable target (name = ``ResourceId|ScalableDimension``)."""

    resource_id: str = ""
    dimension: str = ""
    min_capacity: int = 0
    max_capacity: int = 0
    role_arn: str = ""
    suspended: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ScalingPolicy(Resource):
    """An Application Auto Scaling policy (name = ``ResourceId|ScalableDimension|PolicyName``)."""

    policy_name: str = ""
    resource_id: str = ""
    dimension: str = ""
    policy_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    alarms: list[dict[str, str]] = field(default_factory=list)


@dataclass
class FailureTrigger:
    """Admin-requested failure of the next matching operation on a named resource."""

    kind: str  # ENDPOINT, INFERENCE_COMPONENT or TRANSFORM_JOB
    name: str
    operation: str  # "create", "update" or "any"
    reason: str
    rollback: bool = False  # fail the auto-rollback instead (-> UpdateRollbackFailed)


class Store:
    """All resources, alarm states and pending failure triggers."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str, str], dict[str, Resource]] = {}
        self.alarms: dict[str, str] = {}
        self.triggers: list[FailureTrigger] = []
        # (account, region, kind, key) of resources with a deployment that may still roll back.
        self.in_flight: set[tuple[str, str, str, str]] = set()
        # Service quotas set through the admin API: (kind, region or "*") -> how many may exist per account.
        self.quotas: dict[tuple[str, str], int] = {}

    def reset(self) -> None:
        """Forget everything (admin reset)."""
        self._data.clear()
        self.quotas.clear()
        self.alarms.clear()
        self.triggers.clear()
        self.in_flight.clear()

    def bucket(self, account: str, region: str, kind: str) -> dict[str, Resource]:
        """The (mutable) name -> resource map of one kind in one account and region."""
        key = (account, region, kind)
        found = self._data.get(key)
        if found is None:
            found = self._data[key] = {}
        return found

    def get(self, account: str, region: str, kind: str, name: str) -> Resource | None:
        """A resource by (case-insensitive) name, or None."""
        bucket = self._data.get((account, region, kind))
        return bucket.get(name.lower()) if bucket else None

    def put(self, resource: Resource, key: str | None = None) -> None:
        """Store ``resource`` under its name (or ``key``)."""
        self.bucket(resource.account, resource.region, resource.kind)[(key or resource.name).lower()] = resource

    def remove(self, resource: Resource, key: str | None = None) -> None:
        """Drop ``resource`` (no error if already gone)."""
        self.bucket(resource.account, resource.region, resource.kind).pop((key or resource.name).lower(), None)
        self.in_flight.discard((resource.account, resource.region, resource.kind, (key or resource.name).lower()))

    def items(self, account: str, region: str, kind: str) -> list[Resource]:
        """Every resource of a kind in one account and region."""
        return list(self._data.get((account, region, kind), {}).values())

    def everything(self) -> Iterator[Resource]:
        """Every stored resource in every account and region."""
        for bucket in list(self._data.values()):
            yield from list(bucket.values())

    def count(self) -> int:
        """Number of stored resources."""
        return sum(len(b) for b in self._data.values())

    def take_trigger(self, kind: str, name: str, operation: str, rollback: bool = False) -> FailureTrigger | None:
        """Consume the first trigger matching a starting operation."""
        for trigger in self.triggers:
            if (
                trigger.kind == kind
                and trigger.name.lower() == name.lower()
                and trigger.operation in (operation, "any")
                and trigger.rollback == rollback
            ):
                self.triggers.remove(trigger)
                return trigger
        return None
