"""IAM calls the emulator answers itself, in front of moto: the policy simulator.

moto does not implement ``SimulatePrincipalPolicy``, and the SageMaker Python SDK v3 calls it before it creates a
model (``ModelBuilder.build()`` checks the execution role). The emulator enforces no IAM permission anywhere, so the
truthful answer of its simulator is that every action is ``allowed``: that is what the simulated principal would see
when it makes the call here. The principal must exist as on AWS: a role always does (GetRole creates any role a
caller names, see :mod:`moto_services`), a user or group only if it was created.

Requests arrive in IAM's query protocol (``ActionNames.member.1=...``); they are decoded and checked against
botocore's model like every other call, and answered in the same XML that botocore's query parser reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .moto_services import MotoServices
from .protocol import AwsError, RequestContext

# The principals PolicySourceArn may name: arn:PARTITION:iam::ACCOUNT:(user|group|role)/PATH/NAME.
_PRINCIPAL_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):(user|group|role)/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")

IamHandler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

# MaxItems when the caller gives none (IAM's documented default for paginated calls).
DEFAULT_MAX_ITEMS = 100


class IamService:
    """The IAM operations moto lacks and the SDKs call."""

    def __init__(self, moto: MotoServices) -> None:
        self.moto = moto
        self.handlers: dict[str, IamHandler] = {"SimulatePrincipalPolicy": self.simulate_principal_policy}

    def simulate_principal_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Every action on every named resource (``*`` when none) is allowed; paginated by MaxItems/Marker."""
        source = params["PolicySourceArn"]
        match = _PRINCIPAL_ARN.match(source)
        if match is None:
            raise AwsError("InvalidInput", f"Invalid ARN: {source}. It must name an IAM user, group or role.")
        account, kind, name = match.groups()
        if kind == "role":
            self.moto.ensure_role(account, name)
        elif not self.moto.iam_entity_exists(account, kind, name):
            raise AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404)
        resources = params.get("ResourceArns") or ["*"]
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": "allowed",
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in params["ActionNames"]
            for resource in resources
        ]
        start = 0
        if "Marker" in params:
            marker = params["Marker"]
            if not marker.isdigit() or int(marker) > len(results):
                raise AwsError("InvalidInput", f"Invalid Marker: {marker}")
            start = int(marker)
        end = start + int(params.get("MaxItems", DEFAULT_MAX_ITEMS))
        page: dict[str, Any] = {"EvaluationResults": results[start:end], "IsTruncated": end < len(results)}
        if end < len(results):
            page["Marker"] = str(end)
        return page
