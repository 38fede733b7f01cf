"""The Resource Groups Tagging API (``X-Amz-Target: ResourceGroupsTaggingAPI_20170126.<Op>``, JSON 1.1):
GetResources over the emulator's SageMaker resources.

What GetResources answers, following the operation's documentation in botocore's model:

* the caller's account and region only; models, endpoint configs, endpoints, inference components and transform
  jobs that are tagged or ever were (a resource whose tags were all deleted is listed with ``"Tags": []``); a
  resource that was never tagged, or is gone, is not listed;
* ``TagFilters``: every filter must match (AND); a filter matches a resource that has its key with one of its
  ``Values`` (OR), or with any value when it has none;
* ``ResourceTypeFilters``: ``service`` or ``service:resourceType`` as they appear in the ARN (``sagemaker``,
  ``sagemaker:endpoint``, ...); other services match nothing here;
* ``ResourceARNList``: those resources (unknown ARNs are left out), in one answer; it cannot be combined with
  TagFilters, ResourceTypeFilters or a pagination parameter;
* pages of ``ResourcesPerPage`` (1-100, default 100) resources and, when given, at most ``TagsPerPage`` (100-500)
  tags, a resource without tags counting as one and a resource never split across pages. The PaginationToken
  names the last ARN returned (resources are listed in ARN order), so resources created or deleted between calls
  never make a walk skip one that existed throughout; it is ``""`` on the last page, as AWS sends it, and expires
  after 15 minutes (``PaginationTokenExpiredException``);
* ``IncludeComplianceDetails``: no tag policy is in effect here, so every resource is compliant;
  ``ExcludeCompliantResources`` (which needs IncludeComplianceDetails) therefore leaves nothing.

Bad parameters answer ``InvalidParameterException`` (HTTP 400), the code the model documents for missing,
malformed and out-of-range parameters; throttling answers ``ThrottledException`` and an internal error
``InternalServiceException``, the service's own codes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from .lifecycle import now
from .protocol import AwsError, RequestContext, json_error
from .sagemaker_ops import SageMakerService
from .store import SAGEMAKER_KINDS, Endpoint, InferenceComponent, Resource

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

SERVICE = "resourcegroupstaggingapi"
TARGET_PREFIX = "ResourceGroupsTaggingAPI_20170126"
INVALID_PARAMETER = "InvalidParameterException"
RESOURCES_PER_PAGE = (1, 100)
TAGS_PER_PAGE = (100, 500)
MAX_TYPE_FILTERS = 100
# AWS documents that a PaginationToken is valid for at most 15 minutes.
TOKEN_LIFETIME = 15 * 60.0

# The service's own names for the emulator's generic fault codes.
_ERROR_CODES = {"ThrottlingException": "ThrottledException", "InternalFailure": "InternalServiceException"}


def invalid_parameter(message: str) -> AwsError:
    """The Tagging API's ``InvalidParameterException`` (HTTP 400)."""
    return AwsError(INVALID_PARAMETER, message)


def tagging_error(ctx: RequestContext | None, error: AwsError) -> web.Response:
    """A JSON 1.1 error with the Tagging API's codes for throttling and internal errors."""
    code = _ERROR_CODES.get(error.code)
    if code is not None:
        error = AwsError(code, error.message, error.status)
    return json_error(ctx, error)


def _arn_type(arn: str) -> tuple[str, str]:
    """(service, resource type) of an ARN: ``arn:aws:sagemaker:R:A:endpoint/x`` gives (sagemaker, endpoint)."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    return (parts[2] if len(parts) > 2 else ""), resource.split("/", 1)[0]


def type_filter_matches(type_filter: str, arn: str) -> bool:
    """Whether ``service[:resourceType]`` selects the resource of ``arn``."""
    service, resource_type = _arn_type(arn)
    wanted_service, sep, wanted_type = type_filter.partition(":")
    if wanted_service != service:
        return False
    return not sep or wanted_type == resource_type


def tag_filters_match(filters: list[dict[str, Any]], tags: dict[str, str]) -> bool:
    """AND across filters, OR across one filter's values; a filter without values needs only the key."""
    for tag_filter in filters:
        key = tag_filter["Key"]
        if key not in tags:
            return False
        values = tag_filter.get("Values")
        if values and tags[key] not in values:
            return False
    return True


def encode_token(after_arn: str, issued: float) -> str:
    """An opaque PaginationToken: the last ARN returned and when the token was issued."""
    raw = json.dumps({"after": after_arn, "issued": issued}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_token(token: str, t: float) -> str:
    """The ARN after which the next page starts; refuses a token that is not one of ours, or has expired."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        doc = None
    after = doc.get("after") if isinstance(doc, dict) else None
    issued = doc.get("issued") if isinstance(doc, dict) else None
    if not isinstance(after, str) or isinstance(issued, bool) or not isinstance(issued, (int, float)):
        raise invalid_parameter(f"The PaginationToken '{token}' is not valid.")
    if t - issued > TOKEN_LIFETIME:
        raise AwsError(
            "PaginationTokenExpiredException", "The PaginationToken has expired: it is valid for 15 minutes."
        )
    return after


class TaggingService:
    """Operation handlers for the ``ResourceGroupsTaggingAPI_20170126`` target prefix."""

    def __init__(self, sagemaker: SageMakerService) -> None:
        self.sagemaker = sagemaker
        self.store = sagemaker.store
        self.handlers: dict[str, Handler] = {"GetResources": self.get_resources}

    def _listed(self, ctx: RequestContext) -> dict[str, Resource]:
        """ARN -> resource of everything GetResources can list for the caller: settled first, so a deletion that
        has finished removes the resource, and only resources that were ever tagged."""
        out: dict[str, Resource] = {}
        for kind in SAGEMAKER_KINDS:
            for resource in self.store.items(ctx.account, ctx.region, kind):
                if isinstance(resource, Endpoint) and not self.sagemaker.settle_endpoint(resource):
                    continue
                if isinstance(resource, InferenceComponent) and not self.sagemaker.settle_component(resource):
                    continue
                if resource.ever_tagged:
                    out[resource.arn] = resource
        return out

    @staticmethod
    def _check(p: dict[str, Any]) -> None:
        """The parameter rules the model cannot express, refused as AWS refuses them."""
        pagination = [name for name in ("ResourcesPerPage", "TagsPerPage") if p.get(name) is not None]
        if p.get("PaginationToken"):
            pagination.append("PaginationToken")
        if p.get("ResourceARNList"):
            for other in ("TagFilters", "ResourceTypeFilters"):
                if p.get(other):
                    raise invalid_parameter(f"You can't specify both ResourceARNList and {other} in the same request.")
            if pagination:
                raise invalid_parameter(
                    f"You can't specify both ResourceARNList and {pagination[0]} in the same request."
                )
        low, high = RESOURCES_PER_PAGE
        if p.get("ResourcesPerPage") is not None and not low <= p["ResourcesPerPage"] <= high:
            raise invalid_parameter(f"ResourcesPerPage must be between {low} and {high}.")
        low, high = TAGS_PER_PAGE
        if p.get("TagsPerPage") is not None and not low <= p["TagsPerPage"] <= high:
            raise invalid_parameter(f"TagsPerPage must be between {low} and {high}.")
        if len(p.get("ResourceTypeFilters") or []) > MAX_TYPE_FILTERS:
            raise invalid_parameter(f"ResourceTypeFilters can include at most {MAX_TYPE_FILTERS} resource types.")
        if p.get("ExcludeCompliantResources") and not p.get("IncludeComplianceDetails"):
            raise invalid_parameter(
                "ExcludeCompliantResources can be used only if IncludeComplianceDetails is also set to true."
            )

    def get_resources(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """GetResources: tagged (or once tagged) SageMaker resources, filtered and paginated (see module doc)."""
        self._check(p)
        t = now()
        listed = self._listed(ctx)
        if p.get("ResourceARNList"):
            wanted = list(dict.fromkeys(cast(list[str], p["ResourceARNList"])))
            page = [listed[arn] for arn in wanted if arn in listed]
            token = ""
        else:
            after = decode_token(p["PaginationToken"], t) if p.get("PaginationToken") else None
            tag_filters = p.get("TagFilters") or []
            type_filters = p.get("ResourceTypeFilters") or []
            matching = [
                listed[arn]
                for arn in sorted(listed)
                if (after is None or arn > after)
                and tag_filters_match(tag_filters, listed[arn].tags)
                and (not type_filters or any(type_filter_matches(f, arn) for f in type_filters))
            ]
            if p.get("ExcludeCompliantResources"):
                matching = []  # every resource is compliant (no tag policy)
            page = self._page(matching, p.get("ResourcesPerPage") or RESOURCES_PER_PAGE[1], p.get("TagsPerPage"))
            token = encode_token(page[-1].arn, t) if len(page) < len(matching) else ""
        mappings = []
        for resource in page:
            mapping: dict[str, Any] = {
                "ResourceARN": resource.arn,
                "Tags": [{"Key": k, "Value": v} for k, v in resource.tags.items()],
            }
            if p.get("IncludeComplianceDetails"):
                # No tag policy exists in the emulator: every resource is compliant.
                mapping["ComplianceDetails"] = {
                    "NoncompliantKeys": [],
                    "KeysWithNoncompliantValues": [],
                    "ComplianceStatus": True,
                }
            mappings.append(mapping)
        return {"PaginationToken": token, "ResourceTagMappingList": mappings}

    @staticmethod
    def _page(resources: list[Resource], per_page: int, tags_per_page: int | None) -> list[Resource]:
        """The first resources that fit ``per_page`` and, if given, ``tags_per_page`` (a resource without tags
        counts as one tag; a resource is never split, and a page always holds at least one)."""
        page: list[Resource] = []
        budget = tags_per_page
        for resource in resources[:per_page]:
            weight = max(1, len(resource.tags))
            if budget is not None:
                if weight > budget and page:
                    break
                budget -= weight
            page.append(resource)
        return page
