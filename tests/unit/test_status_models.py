"""The typed status: what the planners write fits it, undeclared fields are refused on write and skipped on read, and
the CRDs' status schemas are generated from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sagemaker_operator.api import crds
from sagemaker_operator.api.kinds import KINDS, kind_named
from sagemaker_operator.api.status_models import EndpointStatus, InferenceComponentStatus, parse, status_schema
from sagemaker_operator.reconcile.endpoint import EndpointMemory, endpoint_fields, plan_endpoint
from sagemaker_operator.reconcile.inference_component import (
    ComponentDesired,
    ComponentMemory,
    component_fields,
    plan_component,
)
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.status import Outcome, build_status
from tests.unit.test_plan_endpoint import NOW, desired, observed, variant

CONFIG = "recommender-5f6a7b8c9d"


def _written(fields: dict[str, object]) -> dict[str, object]:
    """The status the controller writes for these fields (None removes a field)."""
    return build_status({}, Outcome.ready("InService", "ok", fields=dict(fields)), 3, NOW) | {"clusterId": "c"}


def test_what_the_endpoint_planner_writes_fits_the_typed_status() -> None:
    for seen in (None, observed("InService", CONFIG, variants=[variant("current", 0.5, 2)]),
                 observed("Failed", CONFIG, reason="capacity")):
        plan = plan_endpoint(desired(), seen, EndpointMemory(), NOW)
        status = EndpointStatus.model_validate(_written(endpoint_fields(desired(), seen, plan)))
        assert status.endpoint_name == "recommender"
        assert status.ready_for(3)


def test_what_the_component_planner_writes_fits_the_typed_status() -> None:
    wanted = ComponentDesired(name="ic", endpoint_name="host", create_request={}, update_request={}, digest="d1",
                              copy_count=2, model_names=("m-1",))
    obj = KubeObject.from_body({"kind": "SageMakerInferenceComponent", "metadata": {"name": "ic", "namespace": "ml"}})
    seen = {"InferenceComponentArn": "arn:aws:sagemaker:us-east-1:1:inference-component/ic",
            "InferenceComponentStatus": "InService", "RuntimeConfig": {"DesiredCopyCount": 1, "CurrentCopyCount": 1}}
    for answer in (None, seen):
        plan = plan_component(wanted, answer, ComponentMemory(), NOW)
        status = InferenceComponentStatus.model_validate(
            _written(component_fields(obj, wanted, answer, plan, ComponentMemory())))
        assert status.model_names == ["m-1"]


def test_an_undeclared_or_mistyped_field_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="generationSeen"):
        EndpointStatus.model_validate({"generationSeen": 1})
    with pytest.raises(ValidationError, match=r"lastDeployment\.outcome"):
        EndpointStatus.model_validate({"lastDeployment": {"endpointConfigName": "c", "startedAt": NOW,
                                                          "outcome": "Maybe"}})


def test_reading_skips_fields_another_version_wrote() -> None:
    status = parse(EndpointStatus, {"endpointName": "e", "somethingOld": {"x": 1}})
    assert status.endpoint_name == "e"


@pytest.mark.parametrize("name", [kind.kind for kind in KINDS])
def test_the_crd_status_schema_is_generated_from_the_typed_status(name: str) -> None:
    api_kind = kind_named(name)
    schema = crds.crd(api_kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    generated = status_schema(api_kind.status_model)
    assert schema["properties"] == generated["properties"]
    # Every field the model declares, camelCase as written, and nothing that only pydantic understands.
    assert set(schema["properties"]) == {f.alias for f in api_kind.status_model.model_fields.values()}
    text = repr(schema)
    assert "$ref" not in text and "anyOf" not in text and "title" not in text
