"""Conditions, the complete status, and the merge patch that writes it."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from sagemaker_operator.status import Outcome, State, build_status, conditions_for, status_patch

T0 = "2026-11-21T10:00:00Z"
T1 = "2026-11-21T11:00:00Z"
T2 = "2026-11-21T12:00:00Z"


def by_type(conditions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(c["type"]): c for c in conditions}


def as_previous(conditions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return list(conditions)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies ``application/merge-patch+json``."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def test_outcome_constructors() -> None:
    assert Outcome.ready("InService", "ok").state is State.READY
    assert Outcome.progressing("Creating", "wait", requeue_after=5.0).requeue_after == 5.0
    degraded = Outcome.degraded("InvalidSpec", "bad")
    assert (degraded.state, degraded.fields, degraded.events, degraded.finalized) == (State.DEGRADED, {}, [], False)


@pytest.mark.parametrize(("outcome", "active"), [
    (Outcome.ready("InService", "endpoint is InService"), "Ready"),
    (Outcome.progressing("Creating", "creating"), "Progressing"),
    (Outcome.degraded("UpdateFailed", "update failed"), "Degraded"),
])
def test_exactly_one_condition_is_true(outcome: Outcome, active: str) -> None:
    conditions = conditions_for(outcome, [], 4, T0)
    assert [c["type"] for c in conditions] == ["Ready", "Progressing", "Degraded"]
    for condition in conditions:
        assert condition["status"] == ("True" if condition["type"] == active else "False")
        assert condition["observedGeneration"] == 4
        assert condition["lastTransitionTime"] == T0
        # Each condition alone says why: the active one's reason and message.
        assert (condition["reason"], condition["message"]) == (outcome.reason, outcome.message)


def test_transition_time_changes_only_when_the_status_flips() -> None:
    first = conditions_for(Outcome.progressing("Creating", "creating"), [], 1, T0)
    # Same state, new reason and message: no flip, the times stay.
    second = conditions_for(Outcome.progressing("Updating", "updating"), as_previous(first), 1, T1)
    assert {c["type"]: c["lastTransitionTime"] for c in second} == {"Ready": T0, "Progressing": T0, "Degraded": T0}
    assert by_type(second)["Progressing"]["reason"] == "Updating"
    # Progressing -> Ready: two conditions flip, Degraded (False -> False) keeps its time.
    third = conditions_for(Outcome.ready("InService", "ok"), as_previous(second), 2, T2)
    times = {c["type"]: c["lastTransitionTime"] for c in third}
    assert times == {"Ready": T2, "Progressing": T2, "Degraded": T0}
    assert all(c["observedGeneration"] == 2 for c in third)


def test_previous_condition_of_unknown_status_counts_as_a_flip() -> None:
    unknown = as_previous([{"type": "Ready", "status": "Unknown", "lastTransitionTime": T0}])
    ready = by_type(conditions_for(Outcome.ready("InService", "ok"), unknown, 1, T1))["Ready"]
    assert ready["lastTransitionTime"] == T1


def test_build_status_merges_fields_and_removes_none() -> None:
    previous = {"modelName": "m-1", "modelArn": "arn:1", "failureReason": "old", "observedGeneration": 1,
                "conditions": conditions_for(Outcome.progressing("Creating", "creating"), [], 1, T0)}
    outcome = Outcome.ready("Available", "ok", fields={"modelName": "m-2", "failureReason": None,
                                                       "revisions": [{"name": "m-2"}]})
    status = build_status(previous, outcome, 2, T1)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "modelName": "m-2", "modelArn": "arn:1", "revisions": [{"name": "m-2"}], "observedGeneration": 2}
    assert by_type(status["conditions"])["Ready"]["status"] == "True"
    assert by_type(status["conditions"])["Ready"]["lastTransitionTime"] == T1
    assert previous["modelName"] == "m-1"


def test_rewriting_the_same_outcome_produces_no_patch() -> None:
    outcome = Outcome.ready("InService", "ok", fields={"endpointStatus": "InService"})
    status = build_status({}, outcome, 3, T0)
    again = build_status(status, Outcome.ready("InService", "ok", fields={"endpointStatus": "InService"}), 3, T1)
    assert again == status
    assert status_patch(status, again) is None


def test_status_patch_sets_changed_keys_and_nulls_removed_ones() -> None:
    previous = {"a": 1, "b": [1, 2], "gone": "x"}
    new = {"a": 1, "b": [1], "added": {"k": "v"}}
    patch = status_patch(previous, new)
    assert patch == {"b": [1], "added": {"k": "v"}, "gone": None}
    assert merge_patch(previous, patch) == new


def test_status_patch_applied_as_merge_patch_gives_the_new_status() -> None:
    """KubeWriter sends the patch as application/merge-patch+json, which merges nested objects key by key.

    A new deployment record replaces the finished one: the old ``finishedAt`` must not survive the write.
    """
    previous = {"endpointStatus": "InService", "lastDeployment": {
        "endpointConfigName": "ep-1111111111", "fromEndpointConfigName": "ep-0000000000",
        "startedAt": T0, "outcome": "Succeeded", "finishedAt": T1}}
    new = {"endpointStatus": "Updating", "lastDeployment": {
        "endpointConfigName": "ep-2222222222", "fromEndpointConfigName": "ep-1111111111",
        "startedAt": T2, "outcome": "InProgress"}}
    patch = status_patch(previous, new)
    assert patch is not None
    assert merge_patch(previous, patch) == new


def test_build_then_patch_round_trip_through_merge_patch() -> None:
    previous = build_status({}, Outcome.progressing("Creating", "creating", fields={
        "endpointStatus": "Creating", "endpointArn": "arn:1"}), 1, T0)
    new = build_status(previous, Outcome.degraded("CreateFailed", "failed", fields={
        "endpointStatus": "Failed", "endpointArn": None, "failedEndpointConfigName": "ep-1"}), 1, T1)
    patch = status_patch(previous, new)
    assert patch is not None
    assert patch["endpointArn"] is None
    assert merge_patch(previous, patch) == new
