"""STS (query protocol): AssumeRole and GetCallerIdentity.

AssumeRole hands out temporary credentials (``ASIA...`` access keys). Later requests signed with
such a key are attributed to the role: they run in the role's account (so cross-account use is
visible in ARNs and the snapshot) and are counted under the role ARN by the admin counters.
Any other access key is the "default" caller in the emulator's default account.

Credential failures are driven by the admin API: a role can be denied (AssumeRole answers ``AccessDenied``, as
when its trust policy does not name the caller), and credentials can be expired early (every later request signed
with them answers ``ExpiredTokenException``, ``ExpiredToken`` on STS), as when a clock is off. A role's sessions can
be revoked (later calls with them answer ``AccessDeniedException``, except GetCallerIdentity, as after IAM's "revoke
active sessions"). Issued credentials also expire at their ``Expiration``, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass, replace
from typing import Any

from .protocol import AwsError, RequestContext

# IAM action prefixes of services whose botocore name differs (``tag:GetResources``, ``sagemaker:InvokeEndpoint``).
IAM_PREFIX = {"sagemaker-runtime": "sagemaker", "resourcegroupstaggingapi": "tag"}
_ROLE_ARN = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/((?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})")


@dataclass(frozen=True)
class Identity:
    """Who a temporary access key belongs to."""

    role_arn: str
    account: str
    session_name: str
    assumed_arn: str
    assumed_id: str
    expires: float
    # Revoked sessions (IAM's "revoke active sessions"): every call is denied, as by the deny policy IAM attaches.
    revoked: bool = False


def _random(prefix: str, length: int) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def iso(ts: float) -> str:
    """ISO 8601 UTC timestamp as the query protocol writes it."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StsService:
    """The credential registry plus the two STS operations."""

    def __init__(self, default_account: str) -> None:
        self.default_account = default_account
        self.identities: dict[str, Identity] = {}
        self.denied_roles: set[str] = set()
        # Access keys the emulator did not issue (the default caller's) that the admin API expired.
        self.expired_keys: set[str] = set()
        # S3 buckets no caller may read (AccessDenied), as a bucket whose policy does not grant the caller.
        self.denied_buckets: set[str] = set()

    def reset(self) -> None:
        """Forget issued credentials, denied roles and buckets, and expired keys."""
        self.identities.clear()
        self.denied_roles.clear()
        self.expired_keys.clear()
        self.denied_buckets.clear()

    def identify(self, access_key: str) -> Identity | None:
        """The assumed-role identity of an access key, if the emulator issued it."""
        return self.identities.get(access_key)

    def check(self, ctx: RequestContext, t: float) -> None:
        """Refuse a request signed with expired credentials, in the words of the service called."""
        identity = self.identities.get(ctx.access_key)
        expired = identity.expires <= t if identity is not None else ctx.access_key in self.expired_keys
        if expired:
            code = "ExpiredToken" if ctx.service == "sts" else "ExpiredTokenException"
            raise AwsError(code, "The security token included in the request is expired", 400)
        # STS answers GetCallerIdentity to anyone, even under an explicit deny.
        if identity is not None and identity.revoked and ctx.operation != "GetCallerIdentity":
            action = f"{IAM_PREFIX.get(ctx.service, ctx.service)}:{ctx.operation}"
            message = (f"User: {identity.assumed_arn} is not authorized to perform: {action} with an explicit deny "
                       "in an identity-based policy")
            if ctx.service == "sts":
                raise AwsError("AccessDenied", message, 403)
            raise AwsError("AccessDeniedException", message, 400)

    def revoke(self, role_arn: str) -> int:
        """Revoke every session of ``role_arn`` issued so far; later AssumeRoles give working sessions again."""
        revoked = 0
        for key, identity in list(self.identities.items()):
            if identity.role_arn == role_arn and not identity.revoked:
                self.identities[key] = replace(identity, revoked=True)
                revoked += 1
        return revoked

    def expire(self, t: float, *, role_arn: str | None = None, access_key: str | None = None) -> int:
        """Expire, as of ``t``, the credentials issued for ``role_arn``, or the one ``access_key`` (issued or not),
        or every issued credential when neither is given. Answers how many credentials were expired."""
        if access_key is not None and access_key not in self.identities:
            self.expired_keys.add(access_key)
            return 1
        expired = 0
        for key, identity in list(self.identities.items()):
            if (access_key is None or key == access_key) and role_arn in (None, identity.role_arn) \
                    and identity.expires > t:
                self.identities[key] = replace(identity, expires=t)
                expired += 1
        return expired

    def describe(self, t: float) -> dict[str, Any]:
        """What the admin API shows: denied roles, and the issued credentials without their secrets."""
        return {
            "denied_roles": sorted(self.denied_roles),
            "denied_buckets": sorted(self.denied_buckets),
            "expired_keys": len(self.expired_keys),
            "issued": [{"role_arn": i.role_arn, "expiration": iso(i.expires), "expired": i.expires <= t,
                        "revoked": i.revoked} for i in self.identities.values()],
        }

    def assume_role(self, ctx: RequestContext, p: dict[str, Any], t: float) -> dict[str, Any]:
        """AssumeRole: any ``arn:aws:iam::ACCOUNT:role/[PATH/]NAME`` is accepted."""
        role_arn = p["RoleArn"]
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:
            # What STS answers for an ARN that is not an IAM role ARN (e.g. an OIDC provider ARN).
            raise AwsError("ValidationError", "Request ARN is invalid")
        account, role_name = match.group(1), match.group(2).rsplit("/", 1)[-1]
        if role_arn in self.denied_roles:
            caller = self.identify(ctx.access_key)
            who = caller.assumed_arn if caller else f"arn:aws:iam::{ctx.account}:user/emulator"
            raise AwsError("AccessDenied",
                           f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", 403)
        session = p["RoleSessionName"]
        duration = int(p.get("DurationSeconds") or 3600)
        access_key = _random("ASIA", 16)
        role_id = _random("AROA", 17)
        identity = Identity(
            role_arn=role_arn,
            account=account,
            session_name=session,
            assumed_arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
            assumed_id=f"{role_id}:{session}",
            expires=t + duration,
        )
        self.identities[access_key] = identity
        return {
            "Credentials": {
                "AccessKeyId": access_key,
                "SecretAccessKey": secrets.token_urlsafe(30),
                "SessionToken": secrets.token_urlsafe(96),
                "Expiration": iso(identity.expires),
            },
            "AssumedRoleUser": {"AssumedRoleId": identity.assumed_id, "Arn": identity.assumed_arn},
            "PackedPolicySize": 0,
        }

    def caller_identity(self, ctx: RequestContext) -> dict[str, Any]:
        """GetCallerIdentity for an assumed role or the default caller."""
        identity = self.identify(ctx.access_key)
        if identity is not None:
            return {"UserId": identity.assumed_id, "Account": identity.account, "Arn": identity.assumed_arn}
        return {
            "UserId": "AIDAEMULATORDEFAULT0",
            "Account": ctx.account,
            "Arn": f"arn:aws:iam::{ctx.account}:user/emulator",
        }
