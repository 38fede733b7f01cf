"""The status of every kind, as typed models: what the operator writes, what tools read, and the CRD's status schema.

One model per kind. The operator validates every status it writes against its kind's model (a field it does not
declare is a bug, refused before it reaches the API server); the CRDs' status schemas are generated from the same
models (:func:`status_schema`), so ``kubectl explain`` and the API server's validation describe exactly what is
written; readers (``kubectl sagemaker status``, the decisions that look at status) parse it with :func:`parse`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Schema = dict[str, Any]


class _Status(BaseModel):
    # Status keys are camelCase as Kubernetes writes them; unknown keys are refused: every field is declared.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Condition(_Status):
    """One condition, in the Kubernetes convention."""

    type: str = Field(description="Condition type: Ready, Progressing or Degraded.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str | None = Field(None, description="Machine-readable CamelCase reason of the last transition.")
    message: str | None = Field(None, description="Human-readable details.")
    observed_generation: int | None = Field(None, description="metadata.generation the condition was computed for.")
    last_transition_time: str | None = Field(None, description="When status last changed.",
                                             json_schema_extra={"format": "date-time"})


class CommonStatus(_Status):
    """What every kind's status has."""

    observed_generation: int | None = Field(None, description="metadata.generation the operator last acted on.")
    cluster_id: str | None = Field(None, description="The --cluster-id of the operator that manages this object (part "
                                                     "of the AWS names it derives and of its ownership tags).")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Current state: Ready (the AWS resource matches the spec and is usable), Progressing (the "
                    "operator is changing AWS or waiting for it) and Degraded (needs a person).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})
    region: str | None = Field(None, description="AWS region of the resource.")

    def condition(self, kind: str) -> Condition | None:
        """The condition of type ``kind``, if any."""
        return next((c for c in self.conditions if c.type == kind), None)

    def ready_for(self, generation: int) -> bool:
        """Whether status says the spec of ``generation`` is live in AWS (Ready, on that generation)."""
        ready = self.condition("Ready")
        return bool(ready and ready.status == "True") and self.observed_generation == generation


_TAGS_DIGEST = ("Digest of the tags (spec.tags plus ownership tags) the AWS resource was last given; a spec whose "
                "tags differ gets them applied on the next reconcile.")
_RETRY = "The value of the retry annotation the operator last acted on."
_LAST_MODIFIED = ("SageMaker's LastModifiedTime of the {noun} when last described: drift checks compare it with "
                  "{listing}, and describe the {noun} only when it differs.")
_RECREATING = "True while the operator deletes a failed resource to create it again (its absence is no drift)."


class ArtifactStatus(_Status):
    """What S3 said of one model artifact when it was last read (artifact tracking)."""

    uri: str = Field(description="The artifact's S3 URI.")
    etag: str | None = Field(None, description="Its ETag (an object).")
    version_id: str | None = Field(None, description="Its VersionId, on a versioned bucket.")
    objects: int | None = Field(None, description="How many objects are under it (a prefix).")
    digest: str | None = Field(None, description="Digest of the keys and ETags under it (a prefix).")


class Revision(_Status):
    """One AWS revision of an immutable resource."""

    name: str = Field(description="AWS name of the revision.")
    revision: str = Field(description="Hash of the spec the revision was created from.")
    model_names: list[str] | None = Field(None, description="AWS models the revision uses (endpoint configs).")
    artifacts: list[ArtifactStatus] | None = Field(None, description="The artifacts the revision was built from "
                                                                     "(models with artifact tracking).")


class ModelStatus(CommonStatus):
    """Status of a SageMakerModel."""

    model_name: str | None = Field(None, description="Name of the current model revision in SageMaker.")
    model_arn: str | None = Field(None, description="ARN of the current model revision.")
    revision: str | None = Field(None, description="Hash of the spec that the current model revision was created "
                                                   "from.")
    revisions: list[Revision] = Field(default_factory=list, description="The current revision first, then the "
                                                                        "retained previous ones (for rollback).")
    artifacts: list[ArtifactStatus] | None = Field(None, description="With artifact tracking: the identity of each "
                                                                     "artifact as last read from S3.")


class EndpointConfigStatus(CommonStatus):
    """Status of a SageMakerEndpointConfig."""

    endpoint_config_name: str | None = Field(None, description="Name of the current endpoint configuration revision "
                                                               "in SageMaker.")
    endpoint_config_arn: str | None = Field(None, description="ARN of the current endpoint configuration revision.")
    revision: str | None = Field(None, description="Hash of the spec that the current revision was created from.")
    model_names: list[str] = Field(default_factory=list, description="AWS models the current revision uses.")
    revisions: list[Revision] = Field(default_factory=list, description="The current revision first, then the "
                                                                        "retained previous ones (for rollback).")


class ScalingTargetStatus(_Status):
    """One registered Application Auto Scaling target."""

    name: str = Field(description="The variant or component it scales.")
    resource_id: str = Field(description="Application Auto Scaling's ResourceId.")
    scalable_dimension: str = Field(description="Application Auto Scaling's ScalableDimension.")
    min_capacity: int = Field(description="Minimum capacity.")
    max_capacity: int = Field(description="Maximum capacity.")
    policies: list[str] = Field(default_factory=list, description="Names of its scaling policies.")


class AutoscalingStatus(_Status):
    """What is registered with Application Auto Scaling."""

    digest: str = Field(description="Digest of the applied spec.autoscaling and what it applied to; unchanged, "
                                    "nothing is applied again.")
    targets: list[ScalingTargetStatus] = Field(default_factory=list, description="The registered targets.")


class EndpointDeployment(_Status):
    """The last change of config the operator started on an endpoint."""

    endpoint_config_name: str = Field(description="Config the deployment moves to.")
    from_endpoint_config_name: str | None = Field(None, description="Config it moves from (absent for a create).")
    started_at: str = Field(description="When it started.", json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(None, description="When it ended.", json_schema_extra={"format": "date-time"})
    outcome: Literal["InProgress", "Succeeded", "Failed"] = Field(description="InProgress, Succeeded or Failed.")


class VariantStatus(_Status):
    """A production variant as SageMaker last described it."""

    variant_name: str = Field(description="Variant name.")
    current_weight: float | None = Field(None, description="Weight it serves with now.")
    desired_weight: float | None = Field(None, description="Weight it is moving to.")
    current_instance_count: int | None = Field(None, description="Instances serving now.")
    desired_instance_count: int | None = Field(None, description="Instances it is moving to.")
    variant_status: list[str] | None = Field(None, description="SageMaker's variant status list.")


class EndpointStatus(CommonStatus):
    """Status of a SageMakerEndpoint."""

    endpoint_name: str | None = Field(None, description="Name of the endpoint in SageMaker.")
    endpoint_arn: str | None = Field(None, description="ARN of the endpoint.")
    endpoint_status: str | None = Field(None, description="SageMaker's EndpointStatus (Creating, InService, "
                                                          "Updating, Failed ...).")
    failure_reason: str | None = Field(None, description="SageMaker's FailureReason when the endpoint failed.")
    endpoint_url: str | None = Field(None, description="URL of the endpoint's InvokeEndpoint API.")
    last_modified_time: str | None = Field(None, description=_LAST_MODIFIED.format(noun="endpoint",
                                                                                  listing="ListEndpoints"),
                                           json_schema_extra={"format": "date-time"})
    current_endpoint_config_name: str | None = Field(None, description="Endpoint configuration the endpoint serves "
                                                                       "now.")
    desired_endpoint_config_name: str | None = Field(None, description="Endpoint configuration the endpoint is "
                                                                       "being moved to.")
    failed_endpoint_config_name: str | None = Field(None, description="Config whose deployment failed: not retried "
                                                                      "until the spec changes or a retry is asked.")
    last_deployment: EndpointDeployment | None = Field(None, description="The last deployment the operator started.")
    production_variants: list[VariantStatus] | None = Field(None, description="Variants as SageMaker describes "
                                                                              "them.")
    autoscaling: AutoscalingStatus | None = Field(None, description="Registered autoscaling of the variants.")
    recreating: bool | None = Field(None, description=_RECREATING)
    observed_retry: str | None = Field(None, description=_RETRY)
    tags_digest: str | None = Field(None, description=_TAGS_DIGEST)


class ComponentDeployment(_Status):
    """The last specification the operator started to apply to an inference component."""

    specification_digest: str = Field(description="Digest of the specification being applied.")
    kind: Literal["Update"] | None = Field(None, description="Update for an update (absent for a create).")
    started_at: str = Field(description="When it started.", json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(None, description="When it ended.", json_schema_extra={"format": "date-time"})
    outcome: Literal["InProgress", "Succeeded", "Failed"] = Field(description="InProgress, Succeeded or Failed.")


class RuntimeConfigStatus(_Status):
    """A component's copies as SageMaker last described them."""

    desired_copy_count: int | None = Field(None, description="Copies it is moving to.")
    current_copy_count: int | None = Field(None, description="Copies serving now.")


class InferenceComponentStatus(CommonStatus):
    """Status of a SageMakerInferenceComponent."""

    inference_component_name: str | None = Field(None, description="Name of the component in SageMaker.")
    inference_component_arn: str | None = Field(None, description="ARN of the component.")
    inference_component_status: str | None = Field(None, description="SageMaker's status of the component.")
    endpoint_name: str | None = Field(None, description="Endpoint that hosts the component.")
    last_modified_time: str | None = Field(None, description=_LAST_MODIFIED.format(
        noun="component", listing="ListInferenceComponents"), json_schema_extra={"format": "date-time"})
    failure_reason: str | None = Field(None, description="SageMaker's FailureReason when the component failed.")
    specification_digest: str | None = Field(None, description="Digest of the specification AWS runs.")
    failed_specification_digest: str | None = Field(None, description="Specification whose update failed: not "
                                                                      "retried until the spec changes or a retry "
                                                                      "is asked.")
    last_deployment: ComponentDeployment | None = Field(None, description="The last change the operator started.")
    model_names: list[str] = Field(default_factory=list, description="AWS models the component runs.")
    runtime_config: RuntimeConfigStatus | None = Field(None, description="Copies as SageMaker describes them.")
    autoscaling: AutoscalingStatus | None = Field(None, description="Registered autoscaling of the copies.")
    recreating: bool | None = Field(None, description=_RECREATING)
    observed_retry: str | None = Field(None, description=_RETRY)
    tags_digest: str | None = Field(None, description=_TAGS_DIGEST)


S = TypeVar("S", bound=CommonStatus)


class TransformAttempt(_Status):
    """One run of the job in AWS."""

    name: str = Field(description="AWS name of the run.")
    job_status: str = Field(description="Its TransformJobStatus when last seen.")
    failure_reason: str | None = Field(None, description="Why it failed.")


class TransformJobStatus(CommonStatus):
    """Status of a SageMakerTransformJob."""

    job_name: str | None = Field(None, description="AWS name of the current run: the object's name, a hash of the "
                                                   "request and, for re-runs, the attempt.")
    job_arn: str | None = Field(None, description="ARN of the current run.")
    job_status: str | None = Field(None, description="SageMaker's TransformJobStatus (InProgress, Completed, Failed, "
                                                     "Stopping, Stopped).")
    failure_reason: str | None = Field(None, description="Why the run failed or was stopped.")
    start_time: str | None = Field(None, description="When the current run started.",
                                   json_schema_extra={"format": "date-time"})
    completion_time: str | None = Field(None, description="When the current run ended.",
                                        json_schema_extra={"format": "date-time"})
    duration_seconds: int | None = Field(None, description="How long the current run took (so far).")
    output_path: str | None = Field(None, description="S3OutputPath the run writes to.")
    output_objects: int | None = Field(None, description="How many objects the run wrote under the output path.")
    revision: str | None = Field(None, description="Hash of the request the run was started from.")
    attempt: int | None = Field(None, description="Which attempt the current run is (0: the first).")
    attempts: list[TransformAttempt] = Field(default_factory=list, description="Every run of this spec, oldest "
                                                                               "first.")
    finished: bool | None = Field(None, description="The run of this spec ended for good: it is a record and is not "
                                                    "described again.")
    stopped_for_deadline: bool | None = Field(None, description="The operator stopped the run: it ran past "
                                                                "activeDeadlineSeconds.")
    model_name: str | None = Field(None, description="AWS model the run uses.")
    tags_digest: str | None = Field(None, description=_TAGS_DIGEST)


def parse(model: type[S], status: Mapping[str, Any]) -> S:
    """``status`` as read from the API server, as its kind's model. Fields this version does not declare (written by
    another version of the operator) are left out rather than refused: reading must not fail on them."""
    known = _aliases(model)
    return model.model_validate({k: v for k, v in status.items() if k in known})


@functools.cache
def _aliases(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def status_schema(model: type[BaseModel]) -> Schema:
    """The OpenAPI v3 schema of a status model as a CRD takes it: structural (every $ref inlined), without
    pydantic's titles, optional fields as plain types (an absent field is how status says "none")."""
    generated = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    definitions: Mapping[str, Schema] = generated.get("$defs", {})
    return _structural(generated, definitions)


def _structural(schema: Mapping[str, Any], definitions: Mapping[str, Schema]) -> Schema:
    if "$ref" in schema:
        return _structural(definitions[str(schema["$ref"]).rsplit("/", 1)[-1]], definitions)
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    if options:
        # Optional[X]: X, with the field's own description and extensions.
        return {**_structural(options[0], definitions),
                **{k: v for k, v in schema.items() if k not in ("anyOf", "default", "title")}}
    out: Schema = {}
    for key, value in schema.items():
        if key in ("title", "default", "$defs", "additionalProperties"):
            continue
        if key == "properties":
            out[key] = {name: _structural(prop, definitions) for name, prop in value.items()}
        elif key == "items":
            out[key] = _structural(value, definitions)
        elif key == "const":
            out["enum"] = [value]
        else:
            out[key] = value
    if out.get("type") == "integer":
        out.setdefault("format", "int64")
    if out.get("type") == "number":
        out.setdefault("format", "double")
    return out


STATUS_MODELS: Mapping[str, type[CommonStatus]] = {
    "SageMakerModel": ModelStatus,
    "SageMakerEndpointConfig": EndpointConfigStatus,
    "SageMakerEndpoint": EndpointStatus,
    "SageMakerInferenceComponent": InferenceComponentStatus,
    "SageMakerTransformJob": TransformJobStatus,
}
