"""The custom resource kinds: which botocore input shapes each spec is made of, and the operator's overlays.

A kind is declarative: the AWS operations its spec comes from, the AWS members it leaves out (each with a reason),
and overlays that add operator-only fields or relax members the operator fills in. Everything else (the schema,
the CRD, the conversion to AWS requests, the completeness test) follows from that. Adding a kind is adding one
:class:`Kind` to :data:`KINDS`.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator.api.convert import to_aws
from sagemaker_operator.api.rules import (
    COMMON_RULES,
    ENDPOINT_CONFIG_RULES,
    ENDPOINT_NAME,
    ENDPOINT_RULES,
    INFERENCE_COMPONENT_NAME,
    INFERENCE_COMPONENT_RULES,
    TRANSFORM_JOB_RULES,
    ImmutableName,
    Rule,
)
from sagemaker_operator.api.shapes import Schema, SchemaStats, camel_name, service_model, shape_schema
from sagemaker_operator.api.status_models import (
    CommonStatus,
    EndpointConfigStatus,
    EndpointStatus,
    InferenceComponentStatus,
    ModelStatus,
    TransformJobStatus,
    status_schema,
)

GROUP = "sagemaker.operator.dev"
# The operator's finalizer on every object of its kinds: AWS resources are cleaned up before the object goes.
FINALIZER = f"{GROUP}/finalizer"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "sagemaker"

# A Kubernetes object name (DNS-1123 subdomain), as the API server checks metadata.name.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"
TAG_VALUE_PATTERN = r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"
# AWS allows 50 tags per resource; the operator adds its five sagemaker.operator.dev/* ownership tags.
MAX_TAGS = 45


def object_ref(kind: str, what: str) -> Schema:
    """The schema of ``{name: ...}``, a reference to a ``kind`` object in the same namespace."""
    return {
        "type": "object",
        "description": f"{what} A {kind} in the same namespace; the operator resolves it to the AWS name it manages "
                       f"and waits until it is ready.",
        "required": ["name"],
        "properties": {"name": {
            "type": "string", "description": f"metadata.name of the {kind}.",
            "minLength": 1, "maxLength": 253, "pattern": OBJECT_NAME_PATTERN,
        }},
    }


def revision_history_limit(what: str) -> Schema:
    """The ``revisionHistoryLimit`` field of kinds whose AWS resources are immutable (each change is a revision)."""
    return {
        "type": "integer", "format": "int32", "minimum": 0, "default": 2,
        "description": f"How many previous {what} revisions the operator keeps in AWS after a change, so that a "
                       f"revert is fast (no new resource to create). Older revisions are deleted. Default 2.",
    }


COMMON_FIELDS: dict[str, Schema] = {
    "region": {
        "type": "string", "pattern": REGION_PATTERN, "maxLength": 32,
        "description": "AWS region of the resource, e.g. eu-west-1. Default: the operator's region (its AWS_REGION). "
                       "Changing it creates the resource in the new region and deletes the old one.",
    },
    "assumeRoleArn": {
        "type": "string", "pattern": ROLE_ARN_PATTERN, "minLength": 20, "maxLength": 2048,
        "description": "IAM role the operator assumes (STS AssumeRole) for this resource's AWS calls, e.g. to manage "
                       "resources in another account. Default: the operator's own AWS identity.",
    },
    "tags": {
        "type": "object", "maxProperties": MAX_TAGS,
        "additionalProperties": {"type": "string", "maxLength": 256, "pattern": TAG_VALUE_PATTERN},
        "description": "AWS tags of the resource, as key: value (at most 45: AWS allows 50 and the operator adds 5 "
                       "ownership tags; keys 1-128 characters, not starting with aws:; values up to 256 "
                       "characters). The operator adds its own sagemaker.operator.dev/* tags.",
    },
    "deletionPolicy": {
        "type": "string", "enum": ["Delete", "Retain"], "default": "Delete",
        "description": "What happens to the AWS resource when this object is deleted: Delete (default) deletes it, "
                       "Retain leaves it in AWS.",
    },
}


@dataclass(frozen=True)
class Overlay:
    """Operator changes to the generated schema at one place of the spec.

    ``at`` is a camelCase spec path ("" for the spec itself, ``productionVariants[]`` for each variant).
    """

    at: str = ""
    add: Mapping[str, Schema] = field(default_factory=dict)  # operator-only members (dropped from AWS requests)
    optional: tuple[str, ...] = ()  # AWS members (PascalCase) the operator can fill in: no longer required
    descriptions: Mapping[str, str] = field(default_factory=dict)  # camelCase member -> replacement description


@dataclass(frozen=True)
class PrinterColumn:
    """An additionalPrinterColumn of ``kubectl get``."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""


def ready_columns(aws_name_path: str) -> tuple[PrinterColumn, ...]:
    """Ready / Reason / AWS Name columns (Age is appended for every kind)."""
    return (
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition."),
        PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', description="Why (not) ready."),
        PrinterColumn("AWS Name", aws_name_path, description="Name of the resource in SageMaker."),
    )


@dataclass(frozen=True, eq=False)  # identity hash: a kind's generated schema is cached per Kind object
class Kind:
    """One custom resource kind, declared in terms of the SageMaker API."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    operations: tuple[str, ...]  # AWS operations whose input members make up the spec; the first one creates
    excluded: Mapping[str, str]  # AWS member path (PascalCase, "[]" for list items) -> why it is not in the spec
    overlays: tuple[Overlay, ...] = ()
    status_model: type[CommonStatus] = CommonStatus  # the typed status (api/status_models.py)
    columns: tuple[PrinterColumn, ...] = ()
    rules: tuple[Rule, ...] = ()  # CEL rules in the CRD, and the operator's own copy of them (api/rules.py)
    immutable_name: ImmutableName | None = None  # the spec member naming the AWS resource, if the user may set it

    @property
    def status(self) -> Mapping[str, Schema]:
        """The CRD's status properties, generated from :attr:`status_model`."""
        properties: Mapping[str, Schema] = status_schema(self.status_model)["properties"]
        return properties

    @property
    def singular(self) -> str:
        """Lower-case kind name, as ``kubectl get sagemakermodel``."""
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        """``sagemaker.operator.dev/v1alpha1``."""
        return API_VERSION

    @property
    def crd_name(self) -> str:
        """metadata.name of the CRD (``sagemakermodels.sagemaker.operator.dev``)."""
        return f"{self.plural}.{GROUP}"

    @property
    def create_operation(self) -> str:
        """The AWS operation that creates this kind's resource (``CreateModel``...)."""
        return self.operations[0]

    def input_shape(self, operation: str | None = None) -> Any:
        """botocore input shape of ``operation`` (default: the create operation)."""
        return service_model().operation_model(operation or self.create_operation).input_shape

    @property
    def all_overlays(self) -> tuple[Overlay, ...]:
        """The common fields (region, tags, ...) followed by the kind's own overlays."""
        return (Overlay(add=COMMON_FIELDS), *self.overlays)

    @property
    def all_rules(self) -> tuple[Rule, ...]:
        """The rules of the common fields followed by the kind's own."""
        return (*COMMON_RULES, *self.rules)

    def root_validations(self) -> list[Schema]:
        """``x-kubernetes-validations`` at the root of the CRD schema (rules that compare with the old object)."""
        return [self.immutable_name.schema()] if self.immutable_name else []

    @property
    def operator_only_paths(self) -> frozenset[str]:
        """camelCase spec paths of members that never go to AWS as such (``productionVariants[].modelRef``)."""
        return frozenset(_join(overlay.at, name) for overlay in self.all_overlays for name in overlay.add)

    def spec_schema(self) -> Schema:
        """The structural schema of ``spec`` (a fresh copy)."""
        return copy.deepcopy(_spec_schema(self)[0])

    def schema_stats(self) -> SchemaStats:
        """What the schema generation left out (patterns RE2 cannot compile, recursive shapes)."""
        return _spec_schema(self)[1]

    def request(self, spec: Mapping[str, Any], operation: str | None = None,
                fill: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The AWS request of ``operation`` (default: create) for a spec of this kind.

        Operator-only members are dropped, and so are spec members that belong to the kind's other operations
        (``retainAllVariantProperties`` is not part of CreateEndpoint). ``fill`` (PascalCase, e.g. the derived
        ``ModelName`` and the ``Tags`` list) is merged in last. Resolve references (``modelRef`` -> ``modelName``)
        in the spec before calling this.
        """
        operation = operation or self.create_operation
        input_shape = self.input_shape(operation)
        ignore = set(self.operator_only_paths)
        for other in self.operations:
            for member in service_model().operation_model(other).input_shape.members:
                if member not in input_shape.members:
                    ignore.add(camel_name(member))
        request: dict[str, Any] = to_aws(input_shape, spec, ignore=ignore)
        request.update(fill or {})
        return request


_SEGMENT = re.compile(r"\[\]|\{\}|[^.\[\]{}]+")


def path_segments(path: str) -> list[str]:
    """``productionVariants[].modelRef`` -> ``["productionVariants", "[]", "modelRef"]``."""
    return _SEGMENT.findall(path)


def _join(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


def schema_at(schema: Schema, path: str | list[str]) -> Schema:
    """The sub-schema at a camelCase path (``[]``: list items, ``{}``: map values); KeyError if absent."""
    node = schema
    for segment in path_segments(path) if isinstance(path, str) else path:
        if segment == "[]":
            node = node["items"]
        elif segment == "{}":
            node = node["additionalProperties"]
        else:
            node = node["properties"][segment]
    return node


def aws_path_to_spec(aws_path: str) -> list[str]:
    """AWS member path -> camelCase spec path segments (``ProductionVariants[].ModelName`` -> ...modelName)."""
    return [segment if segment in ("[]", "{}") else camel_name(segment) for segment in path_segments(aws_path)]


@functools.cache
def _spec_schema(kind: Kind) -> tuple[Schema, SchemaStats]:
    stats = SchemaStats()
    operations = " and ".join(kind.operations)
    spec: Schema = {
        "type": "object", "properties": {},
        "description": f"Desired state: the members of SageMaker's {operations} request in camelCase (see the "
                       f"SageMaker API reference), minus the names the operator derives, plus the operator's fields.",
    }
    required: set[str] = set()
    for operation in kind.operations:
        generated = shape_schema(service_model().operation_model(operation).input_shape, stats=stats)
        for name, member in generated.get("properties", {}).items():
            # Members shared by several operations (EndpointName...) have the same shape: the first one wins.
            spec["properties"].setdefault(name, member)
        required.update(generated.get("required", ()))
    spec["required"] = sorted(required)
    for aws_path in kind.excluded:
        *parent, leaf = aws_path_to_spec(aws_path)
        node = schema_at(spec, parent)
        del node["properties"][leaf]
        if leaf in node.get("required", ()):
            node["required"].remove(leaf)
    for overlay in kind.all_overlays:
        node = schema_at(spec, overlay.at)
        for name, member in overlay.add.items():
            if name in node["properties"]:
                raise ValueError(f"{kind.kind}: overlay member {_join(overlay.at, name)} shadows an AWS member")
            node["properties"][name] = copy.deepcopy(member)
        for aws_name in overlay.optional:
            if camel_name(aws_name) in node.get("required", ()):
                node["required"].remove(camel_name(aws_name))
        for name, text in overlay.descriptions.items():
            node["properties"][name]["description"] = text
    for rule in kind.all_rules:
        schema_at(spec, rule.at).setdefault("x-kubernetes-validations", []).append(rule.schema())
    for node in _objects(spec):
        if "required" in node and not node["required"]:
            del node["required"]
    return spec, stats


def _objects(schema: Schema) -> list[Schema]:
    found = [schema]
    for key in ("properties",):
        for child in schema.get(key, {}).values():
            found += _objects(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _objects(schema[key])
    return found


_DERIVED = "derived by the operator from metadata.name and a hash of the spec (<name>-<hash>), since the resource " \
           "is immutable in AWS and each change creates a new revision"
_TAGS = "replaced by the spec's common tags map (key: value), converted to the AWS tag list"

MODEL = Kind(
    kind="SageMakerModel", plural="sagemakermodels", short_names=("smmodel",),
    description="A SageMaker model (CreateModel): the inference containers, their artifacts and the role they run "
                "with. Every change creates a new model revision in AWS.",
    operations=("CreateModel",),
    excluded={"ModelName": _DERIVED, "Tags": _TAGS},
    overlays=(Overlay(add={
        "revisionHistoryLimit": revision_history_limit("model"),
        "artifactTracking": {
            "type": "string", "enum": ["Enabled", "Disabled"],
            "description": "Enabled: the identity of every S3 artifact the model names (ETag, VersionId; for a "
                           "prefix, its keys and ETags) is part of the revision, read every --artifact-check-seconds: "
                           "a file overwritten in place makes a new revision and a zero-downtime update of the "
                           "endpoints, and the ETag seen is pinned where the request takes one. Default: the "
                           "operator's --artifact-tracking (off).",
        },
    }),),
    status_model=ModelStatus,
    columns=ready_columns(".status.modelName"),
)



def variant_overlay(at: str) -> Overlay:
    """A variant list's items: ``modelName`` becomes optional, ``modelRef`` is added (not both: a rule says so)."""
    return Overlay(
        at=at, optional=("ModelName",),
        add={"modelRef": object_ref("SageMakerModel", "The model this variant serves.")},
        descriptions={"modelName": "Name of an existing model in SageMaker that this variant serves. Use modelRef "
                                   "for a SageMakerModel of this namespace instead; set neither for a configuration "
                                   "of inference components. Not both."},
    )


ENDPOINT_CONFIG = Kind(
    kind="SageMakerEndpointConfig", plural="sagemakerendpointconfigs", short_names=("smconfig",),
    description="A SageMaker endpoint configuration (CreateEndpointConfig): production and shadow variants, data "
                "capture, async inference and more. Every change creates a new configuration revision in AWS.",
    operations=("CreateEndpointConfig",),
    excluded={"EndpointConfigName": _DERIVED, "Tags": _TAGS},
    overlays=(
        Overlay(add={"revisionHistoryLimit": revision_history_limit("endpoint configuration")}),
        variant_overlay("productionVariants[]"),
        variant_overlay("shadowProductionVariants[]"),
    ),
    status_model=EndpointConfigStatus,
    columns=ready_columns(".status.endpointConfigName"),
    rules=ENDPOINT_CONFIG_RULES,
)

@functools.cache
def autoscaling_model() -> Any:
    """botocore's Application Auto Scaling model: scaling policies are written in its terms."""
    import botocore.session

    return botocore.session.get_session().get_service_model("application-autoscaling")


def scaling_policy_schema() -> Schema:
    """One scaling policy: a name, and target tracking or step scaling in Application Auto Scaling's terms."""
    model = autoscaling_model()
    put = model.operation_model("PutScalingPolicy").input_shape
    name = shape_schema(put.members["PolicyName"])
    name["description"] = "Name of the scaling policy (unique per scaled resource)."
    return {
        "type": "object", "required": ["policyName"],
        "description": "A scaling policy (PutScalingPolicy): target tracking (keep a metric near a target value) "
                       "or step scaling. Exactly one of targetTracking and stepScaling.",
        "properties": {
            "policyName": name,
            "targetTracking": shape_schema(model.shape_for("TargetTrackingScalingPolicyConfiguration")),
            "stepScaling": shape_schema(model.shape_for("StepScalingPolicyConfiguration")),
        },
    }


# Application Auto Scaling's quota of scaling policies per scalable target; also bounds the CEL rule that checks
# their names are unique (the API server refuses rules over unbounded lists).
MAX_SCALING_POLICIES = 50


def _capacity(description: str, minimum: int) -> Schema:
    return {"type": "integer", "format": "int32", "minimum": minimum, "description": description}


def endpoint_autoscaling_schema() -> Schema:
    """``spec.autoscaling`` of an endpoint: per production variant, a capacity range and policies."""
    return {
        "type": "array", "maxItems": 10,
        "description": "Application Auto Scaling of production variants' instance counts. The operator registers "
                       "each variant as a scalable target, puts the policies, removes what left the spec, keeps the "
                       "scaled instance counts across endpoint updates and never overrides them.",
        "items": {
            "type": "object", "required": ["variantName", "minCapacity", "maxCapacity"],
            "properties": {
                "variantName": {"type": "string", "maxLength": 63, "pattern": r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
                                "description": "The production variant to scale."},
                "minCapacity": _capacity("Fewest instances the variant scales in to.", 0),
                "maxCapacity": _capacity("Most instances the variant scales out to.", 1),
                "policies": {"type": "array", "items": scaling_policy_schema(), "maxItems": MAX_SCALING_POLICIES,
                             "description": "Scaling policies of this variant."},
            },
        },
        "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["variantName"],
    }


def component_autoscaling_schema() -> Schema:
    """``spec.autoscaling`` of an inference component: a copy-count range and policies."""
    return {
        "type": "object", "required": ["minCopies", "maxCopies"],
        "description": "Application Auto Scaling of the component's copy count (DesiredCopyCount). While set, the "
                       "operator leaves runtimeConfig.copyCount to the autoscaler after creation.",
        "properties": {
            "minCopies": _capacity("Fewest copies the component scales in to.", 0),
            "maxCopies": _capacity("Most copies the component scales out to.", 1),
            "policies": {"type": "array", "items": scaling_policy_schema(), "maxItems": MAX_SCALING_POLICIES,
                         "description": "Scaling policies of this component."},
        },
    }


ENDPOINT = Kind(
    kind="SageMakerEndpoint", plural="sagemakerendpoints", short_names=("smendpoint",),
    description="A SageMaker real-time endpoint (CreateEndpoint/UpdateEndpoint) serving an endpoint configuration. "
                "Changing the configuration updates the endpoint in place, with its deployment guardrails.",
    operations=("CreateEndpoint", "UpdateEndpoint"),
    excluded={"Tags": _TAGS},
    overlays=(Overlay(
        add={"endpointConfigRef": object_ref("SageMakerEndpointConfig", "The endpoint configuration to serve."),
             "autoscaling": endpoint_autoscaling_schema()},
        optional=("EndpointName", "EndpointConfigName"),
        descriptions={
            "endpointName": "Name of the endpoint in SageMaker (unique per account and region). Default: "
                            "metadata.name.",
            "endpointConfigName": "Name of an existing endpoint configuration in SageMaker, not managed by the "
                                  "operator. Exactly one of endpointConfigRef and endpointConfigName is required.",
        },
    ),),
    rules=ENDPOINT_RULES,
    immutable_name=ENDPOINT_NAME,
    status_model=EndpointStatus,
    columns=(
        PrinterColumn("Status", ".status.endpointStatus", description="SageMaker's endpoint status."),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition."),
        PrinterColumn("AWS Name", ".status.endpointName", description="Name of the endpoint in SageMaker."),
    ),
)

def _component_spec_overlay(at: str) -> Overlay:
    return Overlay(
        at=at,
        add={"modelRef": object_ref("SageMakerModel", "The model this component hosts.")},
        descriptions={"modelName": "Name of an existing model in SageMaker that this component hosts. Use modelRef "
                                   "for a SageMakerModel of this namespace instead. Not both."},
    )


INFERENCE_COMPONENT = Kind(
    kind="SageMakerInferenceComponent", plural="sagemakerinferencecomponents", short_names=("smic",),
    description="A SageMaker inference component (CreateInferenceComponent): one model hosted on an endpoint with "
                "its own CPU, memory and accelerator share and copy count, next to other components.",
    operations=("CreateInferenceComponent", "UpdateInferenceComponent"),
    excluded={"Tags": _TAGS},
    overlays=(
        Overlay(
            add={"endpointRef": object_ref("SageMakerEndpoint", "The endpoint that hosts this component."),
                 "autoscaling": component_autoscaling_schema()},
            optional=("InferenceComponentName", "EndpointName"),
            descriptions={
                "inferenceComponentName": "Name of the component in SageMaker. Default: metadata.name.",
                "endpointName": "Name of an existing endpoint in SageMaker, not managed by the operator. Exactly one "
                                "of endpointRef and endpointName is required.",
            },
        ),
        _component_spec_overlay("specification"),
    ),
    status_model=InferenceComponentStatus,
    columns=(
        PrinterColumn("Status", ".status.inferenceComponentStatus", description="SageMaker's component status."),
        PrinterColumn("Ready", '.status.conditions[?(@.type=="Ready")].status', description="Ready condition."),
        PrinterColumn("Endpoint", ".status.endpointName", description="Endpoint that hosts the component."),
        PrinterColumn("Copies", ".status.runtimeConfig.currentCopyCount", "integer", "Copies running now."),
    ),
    rules=INFERENCE_COMPONENT_RULES,
    immutable_name=INFERENCE_COMPONENT_NAME,
)

TRANSFORM_JOB = Kind(
    kind="SageMakerTransformJob", plural="sagemakertransformjobs", short_names=("smtransform",),
    description="A SageMaker batch transform job (CreateTransformJob): a model run over a whole S3 dataset, with the "
                "semantics of a batch/v1 Job. A changed spec is a new run; applying the same spec again never "
                "starts a second one; a finished run is a record.",
    operations=("CreateTransformJob",),
    excluded={"TransformJobName": "derived by the operator from metadata.name and a hash of the request "
                                  "(<name>-<hash>, -<attempt> for re-runs), so that each spec is one run",
              "Tags": _TAGS},
    overlays=(Overlay(
        add={
            "modelRef": object_ref("SageMakerModel", "The model the job runs; its current revision when the run "
                                                     "starts (a later model change does not re-run the job)."),
            "backoffLimit": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 10, "default": 0,
                             "description": "How many times a failed run is started again, each under a new "
                                            "name (<name>-<hash>-<attempt>). Default 0."},
            "activeDeadlineSeconds": {"type": "integer", "format": "int64", "minimum": 1,
                                      "description": "A run still in progress after this long is stopped "
                                                     "(StopTransformJob) and the job is Failed (DeadlineExceeded)."},
        },
        optional=("ModelName",),
        descriptions={"modelName": "Name of an existing model in SageMaker. Exactly one of modelRef and modelName."},
    ),),
    status_model=TransformJobStatus,
    columns=(
        PrinterColumn("Status", ".status.jobStatus", description="SageMaker's transform job status."),
        PrinterColumn("Complete", '.status.conditions[?(@.type=="Complete")].status',
                      description="Complete condition."),
        PrinterColumn("Duration", ".status.durationSeconds", "integer", "Seconds the current run took."),
        PrinterColumn("AWS Name", ".status.jobName", description="Name of the current run in SageMaker."),
    ),
    rules=TRANSFORM_JOB_RULES,
)

KINDS: tuple[Kind, ...] = (MODEL, ENDPOINT_CONFIG, ENDPOINT, INFERENCE_COMPONENT, TRANSFORM_JOB)
KINDS_BY_NAME: dict[str, Kind] = {kind.kind: kind for kind in KINDS}


def kind_named(name: str) -> Kind:
    """The kind called ``name`` (``SageMakerModel``), its plural or a short name."""
    for kind in KINDS:
        if name in (kind.kind, kind.plural, kind.singular, *kind.short_names):
            return kind
    raise KeyError(f"no kind {name!r}; known: {', '.join(k.kind for k in KINDS)}")
