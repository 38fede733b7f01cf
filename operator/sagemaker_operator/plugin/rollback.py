"""``kubectl sagemaker rollback``: point an endpoint back at a retained configuration revision."""

from __future__ import annotations

import click
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.plugin.common import PluginError, Session, main
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    PLURALS,
    VERSION,
)


@main.command()
@click.argument("endpoint")
@click.option("--to-revision", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which retained revision of the endpoint's config: 1 is the previous one "
                   "(`kubectl sagemaker status ENDPOINT` lists them).")
@click.pass_obj
def rollback(session: Session, endpoint: str, to_revision: int) -> None:
    """Switch an endpoint back to a retained revision of its config.

    The endpoint is pinned to that AWS config (spec.endpointConfigName); the operator updates it with the
    endpoint's deployment config. Re-apply your manifests (or set spec.endpointConfigRef) to follow the config again.
    """
    resource = session.require(ENDPOINT, endpoint)
    state = resource.get("status", {}).get("endpointStatus")
    if state in ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"):
        raise PluginError(f"endpoint {endpoint} is {state}; roll back once it is InService")
    config_name = (resource["spec"].get("endpointConfigRef") or {}).get("name")
    if not config_name:
        raise PluginError(f"endpoint {endpoint} names a literal endpointConfigName, not a SageMakerEndpointConfig: "
                          "it has no revisions to roll back to")
    config = session.require(ENDPOINT_CONFIG, config_name)
    revisions = config.get("status", {}).get("revisions") or []
    if to_revision >= len(revisions):
        raise PluginError(f"SageMakerEndpointConfig {config_name} retains {max(len(revisions) - 1, 0)} previous "
                          f"revision(s); there is no revision {to_revision}")
    target = str(revisions[to_revision]["name"])
    patch = {"spec": {"endpointConfigRef": None, "endpointConfigName": target}}
    try:
        session.objects().patch_namespaced_custom_object(GROUP, VERSION, session.namespace, PLURALS[ENDPOINT],
                                                         endpoint, patch)
    except ApiException as error:
        raise PluginError(f"patching SageMakerEndpoint {endpoint}: {error.status} {error.reason}") from error
    click.echo(f"SageMakerEndpoint {endpoint} now asks for AWS config {target} (revision {to_revision} of "
               f"{config_name}); the operator updates the endpoint. Re-apply your manifests to follow "
               f"{config_name} again.")
