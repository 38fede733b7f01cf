"""SageMaker hosting semantics: models, endpoint configs, endpoints, inference components, tags.

Handlers receive already-validated parameters (see :mod:`validation`) and return the response
dict; errors are :class:`AwsError`. Status is evaluated lazily: every access first *settles* the
resource, applying its in-flight :class:`~lifecycle.Deployment` if that has finished.

Failure markers (documented in docs/emulator.md):

* a model whose container ``Image``, ``ModelDataUrl`` or ``ModelDataSource`` S3 URI contains
  the text ``fail`` makes every endpoint create/update that deploys it fail, with AWS's
  health-check FailureReason; an inference component whose container image / artifact URL (or
  model) contains ``fail`` fails the same way;
* an admin failure trigger (``POST /_emulator/failures``) fails the next create/update of the
  named endpoint or inference component with the given reason, or its next auto-rollback.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from .lifecycle import (
    CREATE,
    DELETE,
    RUNTIME,
    UPDATE,
    WEIGHTS,
    Deployment,
    Durations,
    Step,
    alarm_names,
    now,
    plan_steps,
)
from .protocol import AwsError, RequestContext, validation_error
from .store import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    INFERENCE_COMPONENT,
    MODEL,
    SAGEMAKER_KINDS,
    SCALABLE_TARGET,
    SCALING_POLICY,
    Endpoint,
    EndpointConfig,
    Fleet,
    InferenceComponent,
    Model,
    Resource,
    ScalableTarget,
    ScalingPolicy,
    Store,
    Variant,
    sagemaker_arn,
)

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]
# (account, region, log group, log stream, lines): where container log lines go (set by the server).
LogWriter = Callable[[str, str, str, str, list[str]], None]

KIND_LABEL = {
    MODEL: "model",
    ENDPOINT_CONFIG: "endpoint configuration",
    ENDPOINT: "endpoint",
    INFERENCE_COMPONENT: "inference component",
}

IN_PROGRESS = {CREATE: "Creating", UPDATE: "Updating", WEIGHTS: "Updating", RUNTIME: "Updating", DELETE: "Deleting"}


def health_check_reason(variant: str) -> str:
    """AWS's FailureReason when a variant's container never becomes healthy."""
    return (
        f"The primary container for production variant {variant} did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint."
    )


def model_images(model: Model) -> list[str]:
    """The container images a model deploys (primary container or inference pipeline)."""
    containers = [model.spec["PrimaryContainer"]] if model.spec.get("PrimaryContainer") else []
    containers += model.spec.get("Containers") or []
    return [c["Image"] for c in containers if c.get("Image")]


def model_has_failure_marker(model: Model) -> bool:
    """Whether a model carries the documented ``fail`` marker."""
    containers = [model.spec.get("PrimaryContainer") or {}, *(model.spec.get("Containers") or [])]
    for container in containers:
        source = ((container.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri", "")
        for text in (container.get("Image", ""), container.get("ModelDataUrl", ""), source):
            if "fail" in text.lower():
                return True
    return False


def resolved_image(image: str) -> str:
    """A digest-pinned image reference, as DescribeEndpoint's DeployedImages reports it."""
    if "@" in image:
        return image
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    resolved = f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
    return resolved if len(resolved) <= 255 else image


def paginate(items: list[Any], params: dict[str, Any], default_max: int = 10) -> tuple[list[Any], str | None]:
    """Slice a sorted list by NextToken/MaxResults; the token is the offset of the next item."""
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise validation_error(f"Invalid pagination token '{token}'.") from None
    size = int(params.get("MaxResults") or default_max)
    page = items[start : start + size]
    nxt = str(start + size) if start + size < len(items) else None
    return page, nxt


def sort_and_filter(
    items: list[Resource],
    params: dict[str, Any],
    status: Callable[[Resource], str] | None = None,
) -> list[Resource]:
    """Apply the List* filters shared by SageMaker (name, times, status) and sort (see :func:`list_order`)."""
    out = items
    needle = params.get("NameContains")
    if needle:
        out = [r for r in out if needle.lower() in r.name.lower()]
    for key, attr, before in (
        ("CreationTimeBefore", "created", True),
        ("CreationTimeAfter", "created", False),
        ("LastModifiedTimeBefore", "modified", True),
        ("LastModifiedTimeAfter", "modified", False),
    ):
        if params.get(key) is not None:
            bound = float(params[key])
            out = [r for r in out if (getattr(r, attr) < bound if before else getattr(r, attr) > bound)]
    if params.get("StatusEquals") and status is not None:
        out = [r for r in out if status(r) == params["StatusEquals"]]
    _, descending, order = list_order(params, status)
    return sorted(out, key=order, reverse=descending)


SortKey = tuple[Any, str]


def list_order(
    params: dict[str, Any], status: Callable[[Resource], str] | None = None
) -> tuple[str, bool, Callable[[Resource], SortKey]]:
    """(SortBy, descending, key) of a SageMaker List* call: SortBy defaults to CreationTime and SortOrder to
    Descending, as AWS documents. Ties are broken by ARN, so the order is total and a page token can name a
    position in it."""
    sort_by = params.get("SortBy", "CreationTime")
    if sort_by == "Status" and status is None:
        sort_by = "CreationTime"
    descending = params.get("SortOrder", "Descending") == "Descending"

    def key(r: Resource) -> SortKey:
        if sort_by == "Name":
            return (r.name, r.arn)
        if sort_by == "Status" and status is not None:
            return (status(r), r.arn)
        return (r.created, r.arn)

    return sort_by, descending, key


def _list_token(sort_by: str, descending: bool, last: SortKey) -> str:
    raw = json.dumps({"by": sort_by, "desc": descending, "after": list(last)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _list_token_position(token: str, sort_by: str, descending: bool) -> SortKey:
    """The sort key a NextToken names; a token that is not one of ours, or that was issued for another order,
    is refused (its position would mean nothing in this order)."""
    invalid = validation_error(f"Invalid pagination token '{token}'.")
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise invalid from None
    if not isinstance(doc, dict) or doc.get("by") != sort_by or doc.get("desc") is not descending:
        raise invalid
    after = doc.get("after")
    if not isinstance(after, list) or len(after) != 2 or not isinstance(after[1], str):
        raise invalid
    numeric = sort_by == "CreationTime"
    primary = after[0]
    if isinstance(primary, bool) or not isinstance(primary, (int, float) if numeric else str):
        raise invalid
    return (primary, after[1])


def keyset_page(
    items: list[Resource],
    params: dict[str, Any],
    status: Callable[[Resource], str] | None = None,
    default_max: int = 10,
) -> tuple[list[Resource], str | None]:
    """One page of ``items`` (as :func:`sort_and_filter` returned them for the same ``params``).

    The NextToken names the last item returned (its sort key and ARN), not an offset: a resource deleted or
    created between two calls cannot make the next page skip one that existed throughout.
    """
    sort_by, descending, key = list_order(params, status)
    token = params.get("NextToken")
    start = 0
    if token:
        after = _list_token_position(token, sort_by, descending)
        start = next(
            (i for i, r in enumerate(items) if (key(r) < after if descending else key(r) > after)), len(items)
        )
    size = int(params.get("MaxResults") or default_max)
    page = items[start : start + size]
    nxt = _list_token(sort_by, descending, key(page[-1])) if page and start + size < len(items) else None
    return page, nxt


def list_page(
    items: list[Resource],
    params: dict[str, Any],
    status: Callable[[Resource], str] | None = None,
    default_max: int = 10,
) -> tuple[list[Resource], str | None]:
    """Filter, sort and page a SageMaker List* call: (the page, the NextToken or None)."""
    return keyset_page(sort_and_filter(items, params, status), params, status, default_max)


class SageMakerService:
    """Operation handlers for the ``SageMaker`` JSON 1.1 target prefix."""

    def __init__(self, store: Store, durations: Durations) -> None:
        self.store = store
        self.durations = durations
        self.container_log: LogWriter | None = None
        self.handlers: dict[str, Handler] = {
            name[len("op_") :]: getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    # ----------------------------------------------------------------- lookups and settling
    def arn(self, ctx: RequestContext, kind: str, name: str) -> str:
        """ARN of a resource in the caller's account and region."""
        return sagemaker_arn(ctx.region, ctx.account, kind, name)

    def not_found(self, ctx: RequestContext, kind: str, name: str) -> AwsError:
        """``Could not find KIND "arn".`` as SageMaker words it."""
        return validation_error(f'Could not find {KIND_LABEL[kind]} "{self.arn(ctx, kind, name)}".')

    def find(self, ctx: RequestContext, kind: str, name: str) -> Resource | None:
        """A settled resource or None (a deletion that has finished removes it here)."""
        resource = self.store.get(ctx.account, ctx.region, kind, name)
        if isinstance(resource, Endpoint):
            return resource if self.settle_endpoint(resource) else None
        if isinstance(resource, InferenceComponent):
            return resource if self.settle_component(resource) else None
        return resource

    def require(self, ctx: RequestContext, kind: str, name: str) -> Resource:
        """A settled resource, or the AWS not-found ValidationException."""
        resource = self.find(ctx, kind, name)
        if resource is None:
            raise self.not_found(ctx, kind, name)
        return resource

    def endpoint(self, ctx: RequestContext, name: str) -> Endpoint:
        """A settled endpoint or ``Could not find endpoint``."""
        return cast(Endpoint, self.require(ctx, ENDPOINT, name))

    def component(self, ctx: RequestContext, name: str) -> InferenceComponent:
        """A settled inference component or ``Could not find inference component``."""
        return cast(InferenceComponent, self.require(ctx, INFERENCE_COMPONENT, name))

    def settle_endpoint(self, ep: Endpoint, t: float | None = None) -> bool:
        """Apply ``ep``'s finished deployment; False if the endpoint is now gone."""
        dep = ep.deployment
        t = now() if t is None else t
        if dep is None or not dep.done(t):
            return True
        ep.deployment = None
        ep.modified = dep.finish_at
        self.store.in_flight.discard((ep.account, ep.region, ENDPOINT, ep.name.lower()))
        outcome = dep.outcome()
        if dep.kind == DELETE:
            self.store.remove(ep)
            for ic in self.store.items(ep.account, ep.region, INFERENCE_COMPONENT):
                if cast(InferenceComponent, ic).endpoint_name.lower() == ep.name.lower():
                    self.store.remove(ic)
            return False
        if dep.kind == CREATE:
            if outcome == "failed":
                ep.status, ep.failure_reason = "Failed", dep.failure
            else:
                ep.status = "InService"
                self._activate(ep.fleet)
            return True
        if dep.kind == WEIGHTS:
            ep.status = "InService"
            if ep.fleet:
                self._activate(ep.fleet)
            return True
        # UPDATE
        if outcome == "succeeded":
            ep.fleet = cast(Fleet, dep.target["fleet"])
            self._activate(ep.fleet)
            ep.status, ep.failure_reason = "InService", None
            ep.last_deployment_config = dep.deployment_config
            ep.stranded = None
        elif outcome == "rollback_failed":
            ep.status, ep.failure_reason = "UpdateRollbackFailed", f"Auto-rollback failed: {dep.rollback_reason}"
            # The endpoint keeps serving the mix of old and new fleets it had when the rollback began.
            ep.stranded = (cast(Fleet, dep.target["fleet"]), dep.fraction(dep.finish_at))
        else:
            ep.status = "InService"
            ep.failure_reason = dep.failure if outcome == "failed" else dep.rollback_reason
        return True

    @staticmethod
    def _activate(fleet: Fleet | None) -> None:
        if fleet is None:
            return
        for v in fleet.variants + fleet.shadow:
            v.weight, v.count = v.desired_weight, v.desired_count
            if "desired_serverless" in v.extra:
                v.serverless = v.extra.pop("desired_serverless")

    def settle_component(self, ic: InferenceComponent, t: float | None = None) -> bool:
        """Apply ``ic``'s finished deployment; False if the component is now gone."""
        dep = ic.deployment
        t = now() if t is None else t
        if dep is None or not dep.done(t):
            return True
        ic.deployment = None
        ic.modified = dep.finish_at
        self.store.in_flight.discard((ic.account, ic.region, INFERENCE_COMPONENT, ic.name.lower()))
        outcome = dep.outcome()
        if dep.kind == DELETE:
            self.store.remove(ic)
            return False
        if dep.kind == CREATE:
            if outcome == "failed":
                ic.status, ic.failure_reason = "Failed", dep.failure
            else:
                ic.status, ic.copies = "InService", ic.desired_copies
            return True
        if dep.kind == RUNTIME:
            ic.status, ic.copies = "InService", ic.desired_copies
            return True
        if outcome == "succeeded":
            ic.spec = dep.target["spec"]
            ic.desired_copies = ic.copies = int(dep.target["copies"])
            ic.status, ic.failure_reason = "InService", None
            ic.last_deployment_config = dep.deployment_config
        elif outcome == "rollback_failed":
            ic.status, ic.failure_reason = "Failed", f"Auto-rollback failed: {dep.rollback_reason}"
        else:
            ic.status = "InService"
            ic.failure_reason = dep.failure if outcome == "failed" else dep.rollback_reason
        return True

    def status_of(self, resource: Resource) -> str:
        """Current status of an endpoint or component (after settling)."""
        if isinstance(resource, Endpoint):
            self.settle_endpoint(resource)
            return IN_PROGRESS[resource.deployment.kind] if resource.deployment else resource.status
        if isinstance(resource, InferenceComponent):
            self.settle_component(resource)
            return IN_PROGRESS[resource.deployment.kind] if resource.deployment else resource.status
        return ""

    def start_rollbacks(self, alarm: str, t: float) -> None:
        """An alarm went to ALARM: roll back every in-flight deployment that names it."""
        for account, region, kind, key in list(self.store.in_flight):
            resource = self.store.get(account, region, kind, key)
            dep = getattr(resource, "deployment", None)
            if resource is None or dep is None or alarm not in dep.alarms:
                continue
            label = "endpoint" if kind == ENDPOINT else "inference component"
            reason = f"Rolled back {label} update because alarm {alarm} went into ALARM state."
            if dep.start_rollback(t, reason):
                trigger = self.store.take_trigger(kind, resource.name, "any", rollback=True)
                dep.rollback_fails = trigger is not None
                if trigger is not None:
                    dep.rollback_reason = trigger.reason or reason

    def _start_update(
        self,
        resource: Endpoint | InferenceComponent,
        target: dict[str, Any],
        deploy: dict[str, Any] | None,
        failure: str | None,
        total: int,
    ) -> None:
        """Start an update (endpoint or inference component) that installs ``target``.

        A failing update never shifts traffic: it fails once the new fleet would have been
        provisioned. An update that names alarms may roll back; an alarm already in ALARM starts
        that rollback at once (from the first traffic shift).
        """
        t = now()
        update = self.durations.update
        if failure is not None:
            steps, finish = [Step(t, 0.0, "Creating")], t + update
        else:
            steps, finish = plan_steps(t, update, deploy, total)
        dep = Deployment(
            kind=UPDATE,
            started=t,
            finish_at=finish,
            steps=steps,
            target=target,
            deployment_config=copy.deepcopy(deploy),
            alarms=alarm_names(deploy),
            failure=failure,
            rollback_seconds=update,
        )
        resource.deployment, resource.failure_reason, resource.modified = dep, None, t
        if dep.alarms and failure is None:
            self.store.in_flight.add((resource.account, resource.region, resource.kind, resource.name.lower()))
            firing = next((a for a in dep.alarms if self.store.alarms.get(a) == "ALARM"), None)
            if firing is not None:
                self.start_rollbacks(firing, t)

    def _failure_for(self, ctx: RequestContext, kind: str, name: str, operation: str) -> str | None:
        trigger = self.store.take_trigger(kind, name, operation)
        if trigger is None:
            return None
        return trigger.reason or f"Injected failure of {KIND_LABEL[kind]} {operation} by the emulator admin API."

    def _log_deploy(self, resource: Endpoint | InferenceComponent, fleet: Fleet | None, failure: str | None) -> None:
        """Container start-up lines (or the failure) of a fleet or component being deployed."""
        if self.container_log is None:
            return
        if isinstance(resource, InferenceComponent):
            group = f"/aws/sagemaker/InferenceComponents/{resource.name}"
            streams = [(resource.name, self._image_of_component(resource))]
        else:
            group = f"/aws/sagemaker/Endpoints/{resource.name}"
            streams = [(v.name, v.images[0] if v.images else None) for v in (fleet.variants if fleet else [])]
        for name, image in streams:
            instance = "i-" + hashlib.sha256(f"{resource.arn}/{name}".encode()).hexdigest()[:17]
            lines = [f"Starting the model server (image {image or 'none'})"]
            if failure is None:
                lines += ["Model server started: listening on port 8080", "GET /ping 200"]
            else:
                lines += ["GET /ping 500", f"Container failed: {failure}"]
            self.container_log(resource.account, resource.region, group, f"{name}/{instance}", lines)

    def _image_of_component(self, ic: InferenceComponent) -> str | None:
        image = (ic.spec.get("Container") or {}).get("Image")
        if image is None and ic.spec.get("ModelName"):
            model = self.store.get(ic.account, ic.region, MODEL, ic.spec["ModelName"])
            images = model_images(model) if isinstance(model, Model) else []
            image = images[0] if images else None
        return cast(str | None, image)

    # -------------------------------------------------------------- Application Auto Scaling
    @staticmethod
    def _scaling_owner(resource_id: str) -> tuple[str, str, str | None] | None:
        """(kind, lower-cased name, variant) of a SageMaker scalable target's ResourceId."""
        parts = resource_id.split("/")
        if len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant":
            return ENDPOINT, parts[1].lower(), parts[3]
        if len(parts) == 2 and parts[0] == "inference-component":
            return INFERENCE_COMPONENT, parts[1].lower(), None
        return None

    def scalable_targets_of(self, account: str, region: str, kind: str, name: str) -> list[ScalableTarget]:
        """Scalable targets registered for an endpoint's variants or an inference component."""
        out = []
        for target in self.store.items(account, region, SCALABLE_TARGET):
            owner = self._scaling_owner(cast(ScalableTarget, target).resource_id)
            if owner is not None and owner[:2] == (kind, name.lower()):
                out.append(cast(ScalableTarget, target))
        return out

    def policies_of(self, target: ScalableTarget) -> list[ScalingPolicy]:
        """The scaling policies attached to a scalable target."""
        return [
            cast(ScalingPolicy, q)
            for q in self.store.items(target.account, target.region, SCALING_POLICY)
            if (cast(ScalingPolicy, q).resource_id, cast(ScalingPolicy, q).dimension)
            == (target.resource_id, target.dimension)
        ]

    def remove_scalable_target(self, target: ScalableTarget) -> None:
        """Deregister a scalable target; its policies go with it, as on AWS."""
        for policy in self.policies_of(target):
            self.store.remove(policy)
        self.store.remove(target)

    def deregister_scaling(self, account: str, region: str, kind: str, name: str) -> None:
        """Deregister the scalable targets of a deleted endpoint or inference component."""
        for target in self.scalable_targets_of(account, region, kind, name):
            self.remove_scalable_target(target)

    def _refuse_instance_type_change(self, ep: Endpoint, new: Fleet) -> None:
        """AWS fails an update that changes the instance type of a variant registered for auto scaling."""
        current = {v.name.lower(): v for v in ep.fleet.variants} if ep.fleet else {}
        wanted = {v.name.lower(): v for v in new.variants}
        for target in self.scalable_targets_of(ep.account, ep.region, ENDPOINT, ep.name):
            owner = self._scaling_owner(target.resource_id)
            variant = (owner[2] or "").lower() if owner else ""
            old_v, new_v = current.get(variant), wanted.get(variant)
            if old_v is not None and new_v is not None and old_v.instance_type != new_v.instance_type:
                raise validation_error(
                    f'The update would change the instance type of variant "{old_v.name}" of endpoint "{ep.arn}", '
                    "which is registered as an Application Auto Scaling scalable target. Deregister the scalable "
                    "target before updating the endpoint."
                )

    # ------------------------------------------------------------------------------ tags
    def _resource_by_arn(self, arn: str) -> Resource:
        try:
            _, _, _, region, account, rest = arn.split(":", 5)
            kind, name = rest.split("/", 1)
        except ValueError:
            raise validation_error(f'Could not find resource "{arn}".') from None
        resource = self.store.get(account, region, kind, name) if kind in SAGEMAKER_KINDS else None
        if isinstance(resource, Endpoint) and not self.settle_endpoint(resource):
            resource = None
        if isinstance(resource, InferenceComponent) and not self.settle_component(resource):
            resource = None
        if resource is None:
            raise validation_error(f'Could not find resource "{arn}".')
        return resource

    @staticmethod
    def _apply_tags(resource: Resource, tags: list[dict[str, str]] | None) -> None:
        for tag in tags or []:
            if tag["Key"].lower().startswith("aws:"):
                raise validation_error("Tag keys starting with 'aws:' are reserved for system use.")
        merged = dict(resource.tags)
        for tag in tags or []:
            merged[tag["Key"]] = tag.get("Value", "")
        if len(merged) > 50:
            raise AwsError("ResourceLimitExceeded", f"Resource {resource.arn} would have more than 50 tags.")
        resource.set_tags(merged)

    def op_AddTags(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """AddTags: a key that exists already gets the new value (keys are unique)."""
        resource = self._resource_by_arn(p["ResourceArn"])
        self._apply_tags(resource, p["Tags"])
        return {"Tags": p["Tags"]}

    def op_ListTags(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListTags, paginated."""
        resource = self._resource_by_arn(p["ResourceArn"])
        tags = [{"Key": k, "Value": v} for k, v in resource.tags.items()]
        page, token = paginate(tags, p, default_max=50)
        return {"Tags": page, **({"NextToken": token} if token else {})}

    def op_DeleteTags(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteTags: unknown keys are ignored, as on AWS."""
        resource = self._resource_by_arn(p["ResourceArn"])
        resource.set_tags({k: v for k, v in resource.tags.items() if k not in set(p["TagKeys"])})
        return {}

    # ---------------------------------------------------------------------------- models
    def _exists_error(self, ctx: RequestContext, kind: str, name: str) -> AwsError:
        return validation_error(f'Cannot create already existing {KIND_LABEL[kind]} "{self.arn(ctx, kind, name)}".')

    def _new(self, ctx: RequestContext, cls: type[Any], kind: str, name: str, **fields: Any) -> Any:
        limit = self.store.quotas.get((kind, ctx.region), self.store.quotas.get((kind, "*")))
        if limit is not None:
            used = len(self.store.bucket(ctx.account, ctx.region, kind))
            if used + 1 > limit:
                noun = kind.replace("-", " ")
                raise AwsError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit 'Number of {noun}s' is {limit} {noun}s, with current "
                    f"utilization of {used} {noun}s and a request delta of 1 {noun}s. Please use AWS Service Quotas "
                    "to request an increase for this quota.")
        t = now()
        return cls(
            kind=kind,
            name=name,
            arn=self.arn(ctx, kind, name),
            account=ctx.account,
            region=ctx.region,
            created=t,
            modified=t,
            **fields,
        )

    def op_CreateModel(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateModel: duplicate names fail; PrimaryContainer or Containers is needed."""
        name = p["ModelName"]
        if self.store.get(ctx.account, ctx.region, MODEL, name):
            raise self._exists_error(ctx, MODEL, name)
        if not p.get("PrimaryContainer") and not p.get("Containers"):
            raise validation_error("Either PrimaryContainer or Containers must be specified.")
        spec = {k: v for k, v in p.items() if k not in ("ModelName", "Tags")}
        model = self._new(ctx, Model, MODEL, name, spec=spec)
        self._apply_tags(model, p.get("Tags"))
        self.store.put(model)
        return {"ModelArn": model.arn}

    def op_DescribeModel(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeModel."""
        model = cast(Model, self.require(ctx, MODEL, p["ModelName"]))
        return {"ModelName": model.name, "ModelArn": model.arn, "CreationTime": model.created, **model.spec}

    def op_DeleteModel(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteModel: allowed while an endpoint uses it (the endpoint keeps serving)."""
        self.store.remove(self.require(ctx, MODEL, p["ModelName"]))
        return {}

    def op_ListModels(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListModels with NameContains, creation-time filters, sorting and pagination."""
        page, token = list_page(self.store.items(ctx.account, ctx.region, MODEL), p)
        models = [{"ModelName": m.name, "ModelArn": m.arn, "CreationTime": m.created} for m in page]
        return {"Models": models, **({"NextToken": token} if token else {})}

    # ------------------------------------------------------------------- endpoint configs
    def op_CreateEndpointConfig(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpointConfig: unique variant names, existing models, IC-style configs need a role."""
        name = p["EndpointConfigName"]
        if self.store.get(ctx.account, ctx.region, ENDPOINT_CONFIG, name):
            raise self._exists_error(ctx, ENDPOINT_CONFIG, name)
        variants = list(p["ProductionVariants"]) + list(p.get("ShadowProductionVariants") or [])
        seen: set[str] = set()
        for v in variants:
            if v["VariantName"].lower() in seen:
                raise validation_error(
                    f"Variant name {v['VariantName']} is used more than once in this endpoint configuration."
                )
            seen.add(v["VariantName"].lower())
        with_model = [v for v in variants if v.get("ModelName")]
        if with_model and len(with_model) != len(variants):
            raise validation_error("Either all production variants specify a ModelName or none of them does.")
        if not with_model and not p.get("ExecutionRoleArn"):
            raise validation_error(
                "ExecutionRoleArn is required when production variants do not specify ModelName "
                "(endpoint configurations for inference components)."
            )
        for v in variants:
            if v.get("ModelName") and self.store.get(ctx.account, ctx.region, MODEL, v["ModelName"]) is None:
                raise self.not_found(ctx, MODEL, v["ModelName"])
            if v.get("ServerlessConfig"):
                if v.get("InstanceType") or v.get("InitialInstanceCount"):
                    raise validation_error(
                        f"Variant {v['VariantName']}: ServerlessConfig cannot be combined with "
                        "InstanceType or InitialInstanceCount."
                    )
            elif not v.get("InstanceType") or (v.get("ModelName") and not v.get("InitialInstanceCount")):
                raise validation_error(
                    f"Variant {v['VariantName']} needs InstanceType and InitialInstanceCount (or ServerlessConfig)."
                )
        spec = {k: v for k, v in p.items() if k not in ("EndpointConfigName", "Tags")}
        config = self._new(ctx, EndpointConfig, ENDPOINT_CONFIG, name, spec=spec)
        self._apply_tags(config, p.get("Tags"))
        self.store.put(config)
        return {"EndpointConfigArn": config.arn}

    def op_DescribeEndpointConfig(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpointConfig."""
        config = cast(EndpointConfig, self.require(ctx, ENDPOINT_CONFIG, p["EndpointConfigName"]))
        return {
            "EndpointConfigName": config.name,
            "EndpointConfigArn": config.arn,
            "CreationTime": config.created,
            **config.spec,
        }

    def op_DeleteEndpointConfig(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpointConfig: allowed while an endpoint uses it, as on AWS."""
        self.store.remove(self.require(ctx, ENDPOINT_CONFIG, p["EndpointConfigName"]))
        return {}

    def op_ListEndpointConfigs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListEndpointConfigs."""
        page, token = list_page(self.store.items(ctx.account, ctx.region, ENDPOINT_CONFIG), p)
        configs = [{"EndpointConfigName": c.name, "EndpointConfigArn": c.arn, "CreationTime": c.created} for c in page]
        return {"EndpointConfigs": configs, **({"NextToken": token} if token else {})}

    # -------------------------------------------------------------------------- endpoints
    def _fleet(self, ctx: RequestContext, config: EndpointConfig) -> tuple[Fleet, str | None]:
        """Build the fleet a config describes and decide whether deploying it fails."""
        failure: str | None = None

        def variant(v: dict[str, Any]) -> Variant:
            nonlocal failure
            images: list[str] = []
            if v.get("ModelName"):
                model = self.store.get(ctx.account, ctx.region, MODEL, v["ModelName"])
                if model is None:
                    failure = failure or f'Could not find model "{self.arn(ctx, MODEL, v["ModelName"])}".'
                else:
                    images = model_images(cast(Model, model))
                    if model_has_failure_marker(cast(Model, model)):
                        failure = failure or health_check_reason(v["VariantName"])
            weight = float(v.get("InitialVariantWeight", 1.0))
            count = v.get("InitialInstanceCount")
            return Variant(
                name=v["VariantName"],
                model_name=v.get("ModelName"),
                instance_type=v.get("InstanceType"),
                weight=weight,
                desired_weight=weight,
                count=count,
                desired_count=count,
                serverless=copy.deepcopy(v.get("ServerlessConfig")),
                images=images,
                extra={k: v[k] for k in ("ManagedInstanceScaling", "RoutingConfig") if k in v},
            )

        spec = config.spec
        fleet = Fleet(
            config_name=config.name,
            variants=[variant(v) for v in spec["ProductionVariants"]],
            shadow=[variant(v) for v in spec.get("ShadowProductionVariants") or []],
            config=spec,
        )
        return fleet, failure

    def op_CreateEndpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpoint: Creating -> InService (or Failed) after the create duration."""
        name = p["EndpointName"]
        if self.find(ctx, ENDPOINT, name) is not None:
            raise self._exists_error(ctx, ENDPOINT, name)
        config = cast(EndpointConfig, self.require(ctx, ENDPOINT_CONFIG, p["EndpointConfigName"]))
        fleet, failure = self._fleet(ctx, config)
        failure = self._failure_for(ctx, ENDPOINT, name, "create") or failure
        t = now()
        ep = self._new(ctx, Endpoint, ENDPOINT, name, status="Creating", fleet=fleet)
        ep.deployment = Deployment(kind=CREATE, started=t, finish_at=t + self.durations.create, failure=failure)
        self._apply_tags(ep, p.get("Tags"))
        self.store.put(ep)
        self._log_deploy(ep, fleet, failure)
        return {"EndpointArn": ep.arn}

    def _variant_summary(self, ep: Endpoint, v: Variant, phase: str | None, started: float) -> dict[str, Any]:
        out: dict[str, Any] = {"VariantName": v.name}
        if v.images:
            out["DeployedImages"] = [
                {"SpecifiedImage": img, "ResolvedImage": resolved_image(img), "ResolutionTime": ep.created}
                for img in v.images
            ]
        if phase != "Creating":
            out["CurrentWeight"] = v.weight
        out["DesiredWeight"] = v.desired_weight
        if v.serverless is not None or "desired_serverless" in v.extra:
            if phase != "Creating" and v.serverless is not None:
                out["CurrentServerlessConfig"] = v.serverless
            out["DesiredServerlessConfig"] = v.extra.get("desired_serverless", v.serverless)
        else:
            if phase != "Creating" and v.count is not None:
                out["CurrentInstanceCount"] = v.count
            if v.desired_count is not None:
                out["DesiredInstanceCount"] = v.desired_count
        for key, field in (("ManagedInstanceScaling", "ManagedInstanceScaling"), ("RoutingConfig", "RoutingConfig")):
            if key in v.extra:
                out[field] = v.extra[key]
        if phase:
            out["VariantStatus"] = [{"Status": phase, "StartTime": started}]
        return out

    def describe_endpoint(self, ep: Endpoint) -> dict[str, Any]:
        """DescribeEndpoint's response for a settled endpoint."""
        t = now()
        dep = ep.deployment
        status = IN_PROGRESS[dep.kind] if dep else ep.status
        out: dict[str, Any] = {
            "EndpointName": ep.name,
            "EndpointArn": ep.arn,
            "EndpointStatus": status,
            "CreationTime": ep.created,
            "LastModifiedTime": ep.modified,
        }
        fleet = ep.fleet
        if fleet is not None:
            out["EndpointConfigName"] = fleet.config_name
            creating = dep is not None and dep.kind == CREATE
            weights = dep is not None and dep.kind == WEIGHTS
            phase = "Creating" if creating else ("Updating" if weights else None)
            started = dep.started if dep else ep.modified
            out["ProductionVariants"] = [self._variant_summary(ep, v, phase, started) for v in fleet.variants]
            if fleet.shadow:
                out["ShadowProductionVariants"] = [self._variant_summary(ep, v, phase, started) for v in fleet.shadow]
            self._config_summaries(out, fleet.config)
        if ep.failure_reason:
            out["FailureReason"] = ep.failure_reason
        if ep.last_deployment_config:
            out["LastDeploymentConfig"] = ep.last_deployment_config
        if dep is not None and dep.kind == UPDATE:
            new = cast(Fleet, dep.target["fleet"])
            phase = dep.phase(t)
            share = dep.fraction(t)
            pending: dict[str, Any] = {"EndpointConfigName": new.config_name, "StartTime": dep.started}
            summaries = []
            for v in new.variants:
                item = self._variant_summary(ep, v, phase, dep.started)
                item.pop("CurrentWeight", None)
                if phase != "Creating":
                    item["CurrentWeight"] = round(v.desired_weight * share, 6)
                if v.instance_type:
                    item["InstanceType"] = v.instance_type
                summaries.append(item)
            pending["ProductionVariants"] = summaries
            if new.shadow:
                pending["ShadowProductionVariants"] = [
                    self._variant_summary(ep, v, phase, dep.started) for v in new.shadow
                ]
            out["PendingDeploymentSummary"] = pending
        return out

    @staticmethod
    def _config_summaries(out: dict[str, Any], spec: dict[str, Any]) -> None:
        capture = spec.get("DataCaptureConfig")
        if capture:
            out["DataCaptureConfig"] = {
                "EnableCapture": capture.get("EnableCapture", True),
                "CaptureStatus": "Started" if capture.get("EnableCapture", True) else "Stopped",
                "CurrentSamplingPercentage": capture["InitialSamplingPercentage"],
                "DestinationS3Uri": capture["DestinationS3Uri"],
                "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        for key in ("AsyncInferenceConfig", "ExplainerConfig", "MetricsConfig"):
            if spec.get(key):
                out[key] = spec[key]

    def op_DescribeEndpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpoint (status computed from the lifecycle timeline)."""
        return self.describe_endpoint(self.endpoint(ctx, p["EndpointName"]))

    def _refuse_unless_in_service(self, ep: Endpoint, allow_rollback_failed: bool = False) -> None:
        status = IN_PROGRESS[ep.deployment.kind] if ep.deployment else ep.status
        if status == "InService" or (allow_rollback_failed and status == "UpdateRollbackFailed"):
            return
        if status == "Failed":
            raise validation_error(f'Cannot update failed endpoint "{ep.arn}".')
        raise validation_error(f'Cannot update in-progress endpoint "{ep.arn}".')

    @staticmethod
    def _refuse_kind_change(ep: Endpoint, new: Fleet) -> None:
        """What AWS does not let an update change: an asynchronous endpoint stays asynchronous, and a real-time
        (instance-based) endpoint cannot become serverless."""
        old = ep.fleet
        if old is None:
            return
        if old.config.get("AsyncInferenceConfig") and not new.config.get("AsyncInferenceConfig"):
            raise validation_error("The AsyncInferenceConfig parameter cannot be removed from this endpoint")
        instance_based = any(v.serverless is None for v in old.variants)
        if instance_based and any(v.serverless is not None for v in new.variants):
            raise validation_error(
                f'Endpoint "{ep.arn}" is a real-time endpoint with instance-based variants: updating it to a '
                "serverless endpoint configuration is not supported."
            )

    def op_UpdateEndpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint: blue/green or rolling deployment; the old fleet serves until the switch."""
        ep = self.endpoint(ctx, p["EndpointName"])
        self._refuse_unless_in_service(ep, allow_rollback_failed=True)
        config = cast(EndpointConfig, self.require(ctx, ENDPOINT_CONFIG, p["EndpointConfigName"]))
        new, failure = self._fleet(ctx, config)
        self._refuse_instance_type_change(ep, new)
        self._refuse_kind_change(ep, new)
        failure = self._failure_for(ctx, ENDPOINT, ep.name, "update") or failure
        old = ep.fleet
        if p.get("RetainAllVariantProperties") and old is not None:
            excluded = {e["VariantPropertyType"] for e in p.get("ExcludeRetainedVariantProperties") or []}
            current = {v.name.lower(): v for v in old.variants}
            for v in new.variants:
                was = current.get(v.name.lower())
                if was is None:
                    continue
                if "DesiredWeight" not in excluded:
                    v.weight = v.desired_weight = was.desired_weight
                if "DesiredInstanceCount" not in excluded and was.desired_count is not None:
                    v.count = v.desired_count = was.desired_count
            if "DataCaptureConfig" not in excluded and "DataCaptureConfig" in old.config:
                new.config = {**new.config, "DataCaptureConfig": old.config["DataCaptureConfig"]}
        deploy = p.get("DeploymentConfig")
        if deploy is None and p.get("RetainDeploymentConfig"):
            deploy = ep.last_deployment_config
        total = sum(v.desired_count or 1 for v in new.variants)
        self._start_update(ep, {"fleet": new}, deploy, failure, total)
        self._log_deploy(ep, new, failure)
        return {"EndpointArn": ep.arn}

    def op_UpdateEndpointWeightsAndCapacities(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Change desired weights/counts now; the current values follow after a brief Updating."""
        ep = self.endpoint(ctx, p["EndpointName"])
        self._refuse_unless_in_service(ep)
        assert ep.fleet is not None
        variants = {v.name.lower(): v for v in ep.fleet.variants}
        missing = [
            d["VariantName"] for d in p["DesiredWeightsAndCapacities"] if d["VariantName"].lower() not in variants
        ]
        if missing:
            raise validation_error(
                f'The variant(s) "[{", ".join(missing)}]" is/are not present in the endpoint configuration '
                f'"{ep.fleet.config_name}" of endpoint "{ep.arn}".'
            )
        for d in p["DesiredWeightsAndCapacities"]:  # check everything before changing anything
            v = variants[d["VariantName"].lower()]
            if "DesiredInstanceCount" in d and v.serverless is not None:
                raise validation_error(f"Variant {v.name} is serverless: DesiredInstanceCount cannot be set.")
            if d.get("ServerlessUpdateConfig") and v.serverless is None:
                raise validation_error(f"Variant {v.name} is not serverless: ServerlessUpdateConfig cannot be set.")
        for d in p["DesiredWeightsAndCapacities"]:
            v = variants[d["VariantName"].lower()]
            if "DesiredWeight" in d:
                v.desired_weight = float(d["DesiredWeight"])
            if "DesiredInstanceCount" in d:
                v.desired_count = int(d["DesiredInstanceCount"])
            if d.get("ServerlessUpdateConfig") and v.serverless is not None:
                v.extra["desired_serverless"] = {**v.serverless, **d["ServerlessUpdateConfig"]}
        t = now()
        ep.deployment = Deployment(kind=WEIGHTS, started=t, finish_at=t + self.durations.update)
        ep.modified = t
        return {"EndpointArn": ep.arn}

    def op_DeleteEndpoint(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpoint: Deleting -> gone. Accepted when the endpoint is InService, Failed (the
        only call a failed endpoint takes), OutOfService or UpdateRollbackFailed; refused while an
        operation is in progress (Creating, Updating, Deleting), as AWS refuses it.

        Application Auto Scaling deregisters the endpoint's variants (and so their policies), as
        AWS documents for endpoints configured for auto scaling.
        """
        ep = self.endpoint(ctx, p["EndpointName"])
        if ep.deployment is not None:
            raise validation_error(f'Cannot update in-progress endpoint "{ep.arn}".')
        self.deregister_scaling(ep.account, ep.region, ENDPOINT, ep.name)
        for ic in self.store.items(ep.account, ep.region, INFERENCE_COMPONENT):
            if cast(InferenceComponent, ic).endpoint_name.lower() == ep.name.lower():
                self.deregister_scaling(ep.account, ep.region, INFERENCE_COMPONENT, ic.name)
        t = now()
        self.store.in_flight.discard((ep.account, ep.region, ENDPOINT, ep.name.lower()))
        ep.deployment = Deployment(kind=DELETE, started=t, finish_at=t + self.durations.delete)
        ep.modified = t
        self.settle_endpoint(ep, t)
        return {}

    def op_ListEndpoints(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListEndpoints with name/status/time filters, sorting and pagination."""
        live = [
            e for e in self.store.items(ctx.account, ctx.region, ENDPOINT) if self.settle_endpoint(cast(Endpoint, e))
        ]
        page, token = list_page(live, p, self.status_of)
        endpoints = [
            {
                "EndpointName": e.name,
                "EndpointArn": e.arn,
                "CreationTime": e.created,
                "LastModifiedTime": e.modified,
                "EndpointStatus": self.status_of(e),
            }
            for e in page
        ]
        return {"Endpoints": endpoints, **({"NextToken": token} if token else {})}

    # ---------------------------------------------------------------- inference components
    def _spec_failure(self, ctx: RequestContext, spec: dict[str, Any], variant: str) -> str | None:
        container = spec.get("Container") or {}
        texts = [container.get("Image", ""), container.get("ArtifactUrl", "")]
        if spec.get("ModelName"):
            model = self.store.get(ctx.account, ctx.region, MODEL, spec["ModelName"])
            if model is None:
                raise self.not_found(ctx, MODEL, spec["ModelName"])
            if model_has_failure_marker(cast(Model, model)):
                texts.append("fail")
        if any("fail" in text.lower() for text in texts):
            return health_check_reason(variant)
        return None

    @staticmethod
    def _spec_of(p: dict[str, Any]) -> dict[str, Any]:
        if p.get("Specification"):
            return copy.deepcopy(cast(dict[str, Any], p["Specification"]))
        if p.get("Specifications"):
            return copy.deepcopy(cast(dict[str, Any], p["Specifications"][0]))
        return {}

    def op_CreateInferenceComponent(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateInferenceComponent on an InService endpoint built for inference components."""
        name = p["InferenceComponentName"]
        if self.find(ctx, INFERENCE_COMPONENT, name) is not None:
            raise self._exists_error(ctx, INFERENCE_COMPONENT, name)
        ep = self.endpoint(ctx, p["EndpointName"])
        status = self.status_of(ep)
        if status not in ("InService", "Updating"):
            raise validation_error(f'Cannot create inference component on endpoint "{ep.arn}" in status {status}.')
        assert ep.fleet is not None
        if any(v.model_name for v in ep.fleet.variants) or not ep.fleet.config.get("ExecutionRoleArn"):
            raise validation_error(
                f'Endpoint "{ep.arn}" was not created with an endpoint configuration for inference components '
                "(production variants without ModelName and an ExecutionRoleArn)."
            )
        variant_name = p.get("VariantName") or ep.fleet.variants[0].name
        if variant_name.lower() not in {v.name.lower() for v in ep.fleet.variants}:
            raise validation_error(f'Could not find variant "{variant_name}" in endpoint "{ep.arn}".')
        spec = self._spec_of(p)
        if not spec:
            raise validation_error("Specification is required.")
        if not spec.get("BaseInferenceComponentName") and not p.get("RuntimeConfig"):
            raise validation_error("RuntimeConfig is required.")
        failure = self._spec_failure(ctx, spec, variant_name)
        failure = self._failure_for(ctx, INFERENCE_COMPONENT, name, "create") or failure
        t = now()
        copies = int((p.get("RuntimeConfig") or {}).get("CopyCount", 1))
        ic = self._new(
            ctx,
            InferenceComponent,
            INFERENCE_COMPONENT,
            name,
            endpoint_name=ep.name,
            variant_name=variant_name,
            spec=spec,
            desired_copies=copies,
        )
        ic.deployment = Deployment(kind=CREATE, started=t, finish_at=t + self.durations.create, failure=failure)
        self._apply_tags(ic, p.get("Tags"))
        self.store.put(ic)
        self._log_deploy(ic, None, failure)
        return {"InferenceComponentArn": ic.arn}

    @staticmethod
    def _spec_summary(spec: dict[str, Any], when: float) -> dict[str, Any]:
        out = {k: v for k, v in spec.items() if k != "Container"}
        container = spec.get("Container")
        if container:
            summary = {k: v for k, v in container.items() if k != "Image"}
            if container.get("Image"):
                summary["DeployedImage"] = {
                    "SpecifiedImage": container["Image"],
                    "ResolvedImage": resolved_image(container["Image"]),
                    "ResolutionTime": when,
                }
            out["Container"] = summary
        return out

    def op_DescribeInferenceComponent(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeInferenceComponent."""
        ic = self.component(ctx, p["InferenceComponentName"])
        out: dict[str, Any] = {
            "InferenceComponentName": ic.name,
            "InferenceComponentArn": ic.arn,
            "EndpointName": ic.endpoint_name,
            "EndpointArn": sagemaker_arn(ic.region, ic.account, ENDPOINT, ic.endpoint_name),
            "VariantName": ic.variant_name,
            "Specification": self._spec_summary(ic.spec, ic.created),
            "RuntimeConfig": {"DesiredCopyCount": ic.desired_copies, "CurrentCopyCount": ic.copies},
            "CreationTime": ic.created,
            "LastModifiedTime": ic.modified,
            "InferenceComponentStatus": self.status_of(ic),
        }
        if ic.failure_reason:
            out["FailureReason"] = ic.failure_reason
        if ic.last_deployment_config:
            out["LastDeploymentConfig"] = ic.last_deployment_config
        return out

    def _refuse_component(self, ic: InferenceComponent) -> None:
        status = self.status_of(ic)
        if status != "InService":
            raise validation_error(f'Cannot update in-progress inference component "{ic.arn}" (status {status}).')

    def op_UpdateInferenceComponent(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateInferenceComponent: new specification and/or copies, rolling with auto-rollback."""
        ic = self.component(ctx, p["InferenceComponentName"])
        self._refuse_component(ic)
        spec = self._spec_of(p) or copy.deepcopy(ic.spec)
        copies = int((p.get("RuntimeConfig") or {}).get("CopyCount", ic.desired_copies))
        failure = self._spec_failure(ctx, spec, ic.variant_name)
        failure = self._failure_for(ctx, INFERENCE_COMPONENT, ic.name, "update") or failure
        target = {"spec": spec, "copies": copies}
        self._start_update(ic, target, p.get("DeploymentConfig"), failure, max(copies, 1))
        return {"InferenceComponentArn": ic.arn}

    def op_UpdateInferenceComponentRuntimeConfig(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """UpdateInferenceComponentRuntimeConfig: the copy count converges after the update duration."""
        ic = self.component(ctx, p["InferenceComponentName"])
        self._refuse_component(ic)
        ic.desired_copies = int(p["DesiredRuntimeConfig"]["CopyCount"])
        t = now()
        ic.deployment = Deployment(kind=RUNTIME, started=t, finish_at=t + self.durations.update)
        ic.modified = t
        return {"InferenceComponentArn": ic.arn}

    def op_DeleteInferenceComponent(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DeleteInferenceComponent: Deleting -> gone."""
        ic = self.component(ctx, p["InferenceComponentName"])
        if ic.deployment is None or ic.deployment.kind != DELETE:
            self.deregister_scaling(ic.account, ic.region, INFERENCE_COMPONENT, ic.name)
            t = now()
            self.store.in_flight.discard((ic.account, ic.region, INFERENCE_COMPONENT, ic.name.lower()))
            ic.deployment = Deployment(kind=DELETE, started=t, finish_at=t + self.durations.delete)
            ic.modified = t
            self.settle_component(ic, t)
        return {}

    def op_ListInferenceComponents(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListInferenceComponents with endpoint/variant/status/name filters."""
        live = [
            cast(InferenceComponent, r)
            for r in self.store.items(ctx.account, ctx.region, INFERENCE_COMPONENT)
            if self.settle_component(cast(InferenceComponent, r))
        ]
        if p.get("EndpointNameEquals"):
            live = [r for r in live if r.endpoint_name.lower() == p["EndpointNameEquals"].lower()]
        if p.get("VariantNameEquals"):
            live = [r for r in live if r.variant_name.lower() == p["VariantNameEquals"].lower()]
        found, token = list_page(list(live), p, self.status_of)
        page = cast(list[InferenceComponent], found)
        out = [
            {
                "InferenceComponentName": ic.name,
                "InferenceComponentArn": ic.arn,
                "EndpointName": ic.endpoint_name,
                "EndpointArn": sagemaker_arn(ic.region, ic.account, ENDPOINT, ic.endpoint_name),
                "VariantName": ic.variant_name,
                "InferenceComponentStatus": self.status_of(ic),
                "CreationTime": ic.created,
                "LastModifiedTime": ic.modified,
            }
            for ic in page
        ]
        return {"InferenceComponents": out, **({"NextToken": token} if token else {})}
