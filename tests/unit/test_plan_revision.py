"""The revision plan of models and endpoint configs (plan_revision, pure): create without looking, look up a
retained revision, and a new leader's first pass that looks before it creates."""

from __future__ import annotations

from typing import Any, cast

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.actions import RESOURCE, TAGS
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext
from sagemaker_operator.reconcile.objects import KubeObject, ObjectStore
from sagemaker_operator.reconcile.ownership import Custody, Owner
from sagemaker_operator.reconcile.revisions import (
    MODEL_RESOURCE,
    RevisionDesired,
    RevisionFacts,
    plan_revision,
    reconcile_revision,
)
from sagemaker_operator.status import State

OWNER = Owner(cluster="c", kind="SageMakerModel", namespace="ml", name="m", uid="u-1")
CUSTODY = Custody(owner=OWNER, tags=OWNER.tags(), digest="d", adopt=False, compare_tags=False, tags_recorded=True,
                  spec_unchanged=False)
WANTED = RevisionDesired("m-5f6a7b8c9d", "5f6a7b8c9d", {"ModelName": "m-5f6a7b8c9d", "PrimaryContainer": {}})
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model/m-5f6a7b8c9d"
STATUS = {"modelName": "m-0a1b2c3d4e", "modelArn": ARN.replace("5f6a7b8c9d", "0a1b2c3d4e"),
          "revisions": [{"name": "m-0a1b2c3d4e", "revision": "0a1b2c3d4e"}]}


def test_a_new_revision_is_created_without_looking_first() -> None:
    created = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(), CUSTODY, (), 2)
    assert [c.api for c in created.calls] == ["CreateModel"]
    assert created.calls[0].request["Tags"][0]["Key"].startswith("sagemaker.operator.dev/")


def test_a_new_leader_looks_before_it_creates_and_takes_what_its_predecessor_made() -> None:
    first = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(), CUSTODY, (), 2, cautious=True)
    assert first.need is not None and first.need.what == RESOURCE
    found = {"ModelName": WANTED.name, "ModelArn": ARN}
    ownership = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(found=found), CUSTODY, (), 2,
                              cautious=True)
    assert ownership.need is not None and (ownership.need.what, ownership.need.arn) == (TAGS, ARN)
    ours = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(found=found, tags=OWNER.tags()), CUSTODY,
                         (), 2, cautious=True)
    assert (ours.state, ours.calls, ours.fields["modelArn"]) == (State.READY, (), ARN)
    # Someone else's: refused, never created over or retagged.
    theirs = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(found=found, tags={"team": "x"}), CUSTODY,
                           (), 2, cautious=True)
    assert (theirs.state, theirs.reason, theirs.calls) == (State.DEGRADED, "NotOwned", ())
    # Not there: created, as without caution.
    missing = plan_revision(MODEL_RESOURCE, WANTED, STATUS, RevisionFacts(found=None), CUSTODY, (), 2, cautious=True)
    assert [c.api for c in missing.calls] == ["CreateModel"]


def test_a_retained_revision_is_looked_up_and_switched_back_to_without_a_create() -> None:
    retained = {**STATUS, "revisions": [{"name": WANTED.name, "revision": WANTED.revision}, *STATUS["revisions"]]}
    looked = plan_revision(MODEL_RESOURCE, WANTED, retained, RevisionFacts(), CUSTODY, (), 2)
    assert looked.need is not None and looked.need.what == RESOURCE
    back = plan_revision(MODEL_RESOURCE, WANTED, retained, RevisionFacts(found={"ModelArn": ARN}), CUSTODY, (), 2)
    assert (back.calls, back.fields["modelName"]) == ((), WANTED.name)


def test_a_revision_a_drift_check_misses_is_looked_up_and_created_again_only_if_gone() -> None:
    current = {"modelName": WANTED.name, "modelArn": ARN, "revisions": [{"name": WANTED.name,
                                                                         "revision": WANTED.revision}]}
    unchanged = Custody(**{**CUSTODY.__dict__, "spec_unchanged": True})
    # Without a finding, the current revision is trusted: no call at all.
    assert plan_revision(MODEL_RESOURCE, WANTED, current, RevisionFacts(), unchanged, (), 2).calls == ()
    looked = plan_revision(MODEL_RESOURCE, WANTED, current, RevisionFacts(), unchanged, (), 2, verify=True)
    assert looked.need is not None and looked.need.what == RESOURCE
    there = plan_revision(MODEL_RESOURCE, WANTED, current, RevisionFacts(found={"ModelArn": ARN}), unchanged, (), 2,
                          verify=True)
    assert (there.state, there.calls, there.events, there.fields["modelArn"]) == (State.READY, (), (), ARN)
    gone = plan_revision(MODEL_RESOURCE, WANTED, current, RevisionFacts(found=None), unchanged, (), 2, verify=True)
    assert [c.api for c in gone.calls] == ["CreateModel"]
    assert gone.calls[0].request["ModelName"] == WANTED.name and gone.calls[0].request["Tags"]
    assert [(e.reason, e.warning) for e in gone.events] == [("DriftCorrected", True)]
    assert gone.fields["modelArn"] is None  # the Create answer tells


# --- one revision through reconcile_revision (fake gateway) ------------------------------------------------------


class RefusingGateway:
    """The revision is gone from AWS, and AWS refuses to create it (its model is missing too): one refusal, then
    it is created."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refusals = 1

    async def describe(self, target: Any, operation: str, **params: Any) -> dict[str, Any] | None:
        self.calls.append(operation)
        return None

    async def call(self, target: Any, operation: str, **params: Any) -> dict[str, Any]:
        self.calls.append(operation)
        if self.refusals:
            self.refusals -= 1
            raise AwsFailure(FailureKind.INVALID, "ValidationException", "Could not find model", "CreateModel")
        return {"ModelArn": ARN}


async def test_a_revision_created_again_after_drift_keeps_being_checked_until_it_exists() -> None:
    """The drift check's suspicion is used up by the pass that acts on it. When creating the missing revision again
    fails, the next pass must look at AWS again rather than trust status, which still names the revision; and the
    pass that creates it says so (``created``), so that what waits downstream looks again."""
    ready = {"modelName": WANTED.name, "modelArn": ARN, "revision": WANTED.revision, "observedGeneration": 1,
             "revisions": [{"name": WANTED.name, "revision": WANTED.revision}],
             "conditions": [{"type": "Ready", "status": "True"}]}
    obj = KubeObject.from_body({"kind": "SageMakerModel", "metadata": {"name": "m", "namespace": "ml", "uid": "u-1",
                                                                      "generation": 1},
                                "spec": {}, "status": ready})
    store = ObjectStore()
    store.put(obj)
    gateway = RefusingGateway()
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, gateway), store=store,
                           settings=OperatorSettings(cluster_id="c", default_region="us-east-1"))
    ctx.first_pass(obj.ref)  # not the first pass of this process: no caution beyond the suspicion
    target = AwsTarget("us-east-1")
    ctx.suspect(obj.ref, compare_tags=False)
    refused = await reconcile_revision(ctx, obj, target, MODEL_RESOURCE, WANTED, ())
    assert refused.state is State.DEGRADED and not refused.created
    assert gateway.calls == ["describe_model", "create_model"]
    again = await reconcile_revision(ctx, obj, target, MODEL_RESOURCE, WANTED, ())
    assert again.state is State.READY and again.created
    assert gateway.calls[2:] == ["describe_model", "create_model"]
    assert [e.reason for e in again.events] == ["DriftCorrected"]
    # Nothing suspect any more: the next pass trusts status and calls nothing.
    quiet = await reconcile_revision(ctx, obj, target, MODEL_RESOURCE, WANTED, ())
    assert quiet.state is State.READY and not quiet.created and len(gateway.calls) == 4
