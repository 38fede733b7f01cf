"""What every ``kubectl sagemaker`` command shares: the command group, the session (cluster, namespace, AWS),
errors and output helpers."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from sagemaker_operator import __version__
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.reconcile.objects import (
    GROUP,
    PLURALS,
    VERSION,
)

SERVING_STATES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
OUTPUT_FORMATS = click.Choice(["table", "wide", "json", "yaml"])


class PluginError(click.ClickException):
    """An error for the user: printed as ``error: ...``, exit code 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass
class Session:
    """What every command needs: the cluster, the namespace, and how to reach AWS.

    The kubeconfig is read on first use, not when the command line is parsed, so that ``--help`` of any command
    works without one.
    """

    kubeconfig: str | None
    kube_context: str | None
    namespace_flag: str | None
    cluster_id: str | None  # --cluster-id; None: found in the objects' status (plan)
    region: str | None

    @functools.cached_property
    def _connection(self) -> tuple[kubernetes.client.ApiClient, str]:
        config_file = self.kubeconfig.split(os.pathsep)[0] if self.kubeconfig else None
        try:
            api = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=config_file, context=self.kube_context)
            namespace = self.namespace_flag
            if namespace is None:
                contexts, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                    config_file=config_file)
                if self.kube_context:
                    active = next((c for c in contexts if c["name"] == self.kube_context), active)
                namespace = (active or {}).get("context", {}).get("namespace") or "default"
        except (kubernetes.config.ConfigException, FileNotFoundError) as error:
            raise PluginError(f"cannot load the kubeconfig: {error}") from error
        return api, namespace

    @property
    def api(self) -> kubernetes.client.ApiClient:
        """The Kubernetes API client (the kubeconfig is loaded on first use)."""
        return self._connection[0]

    @property
    def namespace(self) -> str:
        """``--namespace``, else the kubeconfig context's namespace, else ``default``."""
        return self._connection[1]

    def close(self) -> None:
        """Close the API client if one was made."""
        if "_connection" in self.__dict__:
            self._connection[0].close()  # type: ignore[no-untyped-call]

    def objects(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """One custom resource, or None."""
        try:
            body: Any = self.objects().get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
            return dict(body)
        except ApiException as error:
            if error.status == 404:
                return None
            raise PluginError(f"reading {kind} {name}: {error.status} {error.reason}") from error

    def require(self, kind: str, name: str) -> dict[str, Any]:
        body = self.get(kind, name)
        if body is None:
            raise PluginError(f"{kind} {name!r} not found in namespace {self.namespace!r}")
        return body

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every custom resource of a kind in the namespace."""
        try:
            listing: Any = self.objects().list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind])
            items: list[dict[str, Any]] = listing["items"]
        except ApiException as error:
            raise PluginError(f"listing {PLURALS[kind]}: {error.status} {error.reason}") from error
        for item in items:
            item.setdefault("kind", kind)
        return items

    def target(self, body: Mapping[str, Any]) -> AwsTarget:
        spec, status = body.get("spec", {}), body.get("status", {})
        region = status.get("region") or spec.get("region") or self.region
        if not region:
            raise PluginError("no AWS region: the object has none in its status, and neither --region nor "
                              "AWS_REGION is set")
        return AwsTarget(region=str(region), role_arn=spec.get("assumeRoleArn") or None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kubectl-sagemaker")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
              help="Kubeconfig file (default: KUBECONFIG, then ~/.kube/config).")
@click.option("--context", "kube_context", help="Kubeconfig context to use.")
@click.option("-n", "--namespace", help="Namespace (default: the context's namespace, else 'default').")
@click.option("--region", envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
              help="AWS region for objects whose status does not say it yet.")
@click.option("--cluster-id", envvar="SAGEMAKER_OPERATOR_CLUSTER_ID",
              help="The operator's --cluster-id (part of the AWS names `plan` computes). Default: what the operator "
                   "recorded in the status of the namespace's objects, else 'default'.")
@click.pass_context
def main(ctx: click.Context, kubeconfig: str | None, kube_context: str | None, namespace: str | None,
         region: str | None, cluster_id: str | None) -> None:
    """kubectl plugin for SageMaker endpoints managed by sagemaker-operator (`kubectl sagemaker ...`)."""
    session = Session(kubeconfig=kubeconfig, kube_context=kube_context, namespace_flag=namespace,
                      cluster_id=cluster_id, region=region)
    ctx.obj = session
    ctx.call_on_close(session.close)


def emit(data: Any, output: str) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A kubectl-style table: upper-case headers, columns padded with three spaces."""
    cells = [[str(h) for h in headers], *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def condition(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for condition in body.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def traffic(status: Mapping[str, Any]) -> str:
    parts = []
    for variant in status.get("productionVariants") or []:
        weight = variant.get("currentWeight")
        count = variant.get("currentInstanceCount")
        parts.append(f"{variant.get('variantName')}={weight if weight is not None else '?'}"
                     + (f"x{count}" if count is not None else ""))
    return ",".join(parts)


