"""``kubectl sagemaker invoke``: send one request to an endpoint (or a variant, or an inference component)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sagemaker_operator.api import rules
from sagemaker_operator.aws.clients import ClientFactory
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.plugin.common import SERVING_STATES, PluginError, Session, condition, emit, main
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
)


@main.command()
@click.argument("endpoint")
@click.option("--body", help="Request body (e.g. JSON).")
@click.option("--file", "body_file", type=click.File("rb"), help="Read the request body from a file ('-': stdin).")
@click.option("--content-type", default="application/json", show_default=True)
@click.option("--accept", help="Accept header for the response.")
@click.option("--variant", help="Send to this production variant (TargetVariant).")
@click.option("--component", help="Send to this inference component (InferenceComponentName).")
@click.option("-o", "--output", type=click.Choice(["raw", "json", "yaml"]), default="raw", show_default=True,
              help="raw: the response body on stdout, the variant on stderr.")
@click.pass_obj
def invoke(session: Session, endpoint: str, body: str | None, body_file: Any, content_type: str,
           accept: str | None, variant: str | None, component: str | None, output: str) -> None:
    """Call InvokeEndpoint on the SageMaker endpoint a SageMakerEndpoint manages."""
    if (body is None) == (body_file is None):
        raise click.UsageError("give exactly one of --body and --file")
    payload = body.encode() if body is not None else body_file.read()
    resource = session.require(ENDPOINT, endpoint)
    status = resource.get("status", {})
    state = status.get("endpointStatus")
    aws_name = status.get("endpointName") or rules.ENDPOINT_NAME.of(resource["spec"], endpoint)
    if state not in SERVING_STATES:
        reason = condition(resource, "Degraded").get("message") or condition(resource, "Ready").get("message")
        raise PluginError(f"endpoint {aws_name} is {state or 'not created yet'}, not InService"
                          + (f": {reason}" if reason else "")
                          + f". Wait with: kubectl wait --for=condition=Ready smendpoint/{endpoint}")
    params: dict[str, Any] = {"EndpointName": aws_name, "Body": payload, "ContentType": content_type}
    for key, value in (("Accept", accept), ("TargetVariant", variant), ("InferenceComponentName", component)):
        if value:
            params[key] = value
    client = ClientFactory().client("sagemaker-runtime", session.target(resource))
    try:
        response = client.invoke_endpoint(**params)
    except Exception as error:
        failure = classify(error, "InvokeEndpoint")
        raise PluginError(f"InvokeEndpoint {aws_name}: {failure.code}: {failure.message}") from error
    answer: bytes = response["Body"].read()
    served_by = response.get("InvokedProductionVariant")
    if output == "raw":
        sys.stdout.buffer.write(answer)
        if not answer.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
        click.echo(f"served by variant {served_by}", err=True)
        return
    text = answer.decode(errors="replace")
    try:
        decoded: Any = json.loads(text)
    except ValueError:
        decoded = text
    emit({"endpoint": aws_name, "variant": served_by, "contentType": response.get("ContentType"),
           "body": decoded}, output)


