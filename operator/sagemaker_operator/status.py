"""Status of every kind, written in one place: conditions in the Kubernetes convention, and the patch to send.

Three conditions: ``Ready`` (AWS matches the spec and serves), ``Progressing`` (the operator is changing AWS or
waiting for it) and ``Degraded`` (something needs a person: the message names the field or AWS's reason); a kind
may add its own (a transform job's ``Complete`` and ``Failed``, as batch/v1 Jobs have).
``lastTransitionTime`` changes only when a condition's status flips, so watchers are not woken by rewrites.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class State(enum.Enum):
    """The overall state one reconciliation ends in."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"


@dataclass(frozen=True)
class EventRecord:
    """A Kubernetes Event to post about the object."""

    reason: str
    message: str
    warning: bool = False


@dataclass
class Outcome:
    """What one reconciliation concluded: state, status fields, events, and when to look again."""

    state: State
    reason: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    events: list[EventRecord] = field(default_factory=list)
    requeue_after: float | None = None
    finalized: bool = False
    # False: nothing is written (status, events); only the requeue is kept. A brief wait that is not worth a write.
    report: bool = True
    # Conditions of the kind beyond the three every kind has (a job's Complete and Failed): type -> whether True.
    conditions: dict[str, bool] = field(default_factory=dict)
    # The pass created its AWS resource, maybe again under the same name after it was deleted outside (when status
    # need not change): what waits for it downstream looks again.
    created: bool = False

    @classmethod
    def ready(cls, reason: str, message: str, **kwargs: Any) -> Outcome:
        """AWS matches the spec."""
        return cls(State.READY, reason, message, **kwargs)

    @classmethod
    def progressing(cls, reason: str, message: str, **kwargs: Any) -> Outcome:
        """Work under way; look again after ``requeue_after``."""
        return cls(State.PROGRESSING, reason, message, **kwargs)

    @classmethod
    def degraded(cls, reason: str, message: str, **kwargs: Any) -> Outcome:
        """Needs a person (or a spec change); nothing is retried until something changes."""
        return cls(State.DEGRADED, reason, message, **kwargs)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conditions_for(outcome: Outcome, previous: list[Mapping[str, Any]], generation: int, now: str | None = None
                   ) -> list[dict[str, Any]]:
    """The three conditions for ``outcome``, keeping ``lastTransitionTime`` of those whose status did not flip."""
    timestamp = now or _now()
    before = {str(c.get("type")): c for c in previous}
    wanted = {
        "Ready": outcome.state is State.READY,
        "Progressing": outcome.state is State.PROGRESSING,
        "Degraded": outcome.state is State.DEGRADED,
        **outcome.conditions,
    }
    conditions = []
    for kind, active in wanted.items():
        status = "True" if active else "False"
        old = before.get(kind, {})
        reason, message = (outcome.reason, outcome.message) if active else _inactive(kind, outcome)
        conditions.append({
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "observedGeneration": generation,
            "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status else timestamp,
        })
    return conditions


def _inactive(kind: str, outcome: Outcome) -> tuple[str, str]:
    """Reason and message of a condition that is False: the active one's, so each condition alone tells why."""
    return outcome.reason, outcome.message


def build_status(previous: Mapping[str, Any], outcome: Outcome, generation: int, now: str | None = None
                 ) -> dict[str, Any]:
    """The complete new status: previous fields, updated by the outcome's fields (None removes), and conditions."""
    status = {k: v for k, v in previous.items() if k not in ("conditions", "observedGeneration")}
    for key, value in outcome.fields.items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    status["observedGeneration"] = generation
    status["conditions"] = conditions_for(outcome, list(previous.get("conditions") or []), generation, now)
    return status


def status_patch(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch (RFC 7386) that turns ``previous`` into ``new``, or None when nothing changed.

    Merge patches merge nested objects, so a key that disappeared inside one must be sent as null; lists and
    scalars are replaced whole.
    """
    patch: dict[str, Any] = {}
    for key, value in new.items():
        old = previous.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            nested = status_patch(old, value)
            if nested is not None:
                patch[key] = nested
        elif old != value or key not in previous:
            patch[key] = value
    patch.update({key: None for key in previous if key not in new})
    return patch or None
