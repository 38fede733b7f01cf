"""The finalizer policy: a MutatingAdmissionPolicy that puts the operator's finalizer on its objects as they are
created, inside the API server's own request.

Without it the operator adds the finalizer itself, one more write (and one more watch event back) per object before
anything is created in AWS: a third of everything it wrote to Kubernetes while 1,000 endpoints were created. The
operator's own add stays as the fallback: on API servers without the policy API (before Kubernetes 1.36), where the
policy is not installed, or where it failed (``failurePolicy: Ignore`` never blocks a create).

The chart renders the same documents (``templates/finalizer-policy.yaml``); a test compares them with these.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sagemaker_operator.api.kinds import ENDPOINT, FINALIZER, GROUP, KINDS, VERSION

API_VERSION = "admissionregistration.k8s.io/v1"
DEFAULT_NAME = "sagemaker-operator-finalizer"
# Only objects without the finalizer: a create that carries it (a restored backup, a copy) is left as it is.
MATCH_CONDITION = f'!has(object.metadata.finalizers) || !("{FINALIZER}" in object.metadata.finalizers)'
# A JSON patch rather than an apply configuration: it appends to the finalizers an object came with, whatever the
# list type of metadata.finalizers in a custom resource's schema.
MUTATION = (f'has(object.metadata.finalizers) ? '
            f'[JSONPatch{{op: "add", path: "/metadata/finalizers/-", value: "{FINALIZER}"}}] : '
            f'[JSONPatch{{op: "add", path: "/metadata/finalizers", value: ["{FINALIZER}"]}}]')


def finalizer_policy(name: str = DEFAULT_NAME) -> dict[str, Any]:
    """The MutatingAdmissionPolicy: on CREATE of any of the operator's kinds, add its finalizer."""
    return {
        "apiVersion": API_VERSION, "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [GROUP], "apiVersions": ["*"], "operations": ["CREATE"],
                "resources": sorted(kind.plural for kind in KINDS)}]},
            "matchConditions": [{"name": "without-the-finalizer", "expression": MATCH_CONDITION}],
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": MUTATION}}],
        },
    }


def finalizer_policy_binding(name: str = DEFAULT_NAME, namespaces: Sequence[str] = ()) -> dict[str, Any]:
    """Its binding: to the namespaces the operator watches (``namespaces``), or to every namespace.

    An object gets the finalizer only where an operator will remove it again: in a namespace no operator watches it
    could not be deleted.
    """
    match: dict[str, Any] = {}
    if namespaces:
        match = {"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)}]}}
    return {
        "apiVersion": API_VERSION, "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, **({"matchResources": match} if match else {})},
    }


def install_finalizer_policy(api_client: Any, namespaces: Sequence[str] = (), *, name: str = DEFAULT_NAME,
                             timeout: float = 30.0) -> bool:
    """Create or replace the policy and its binding as the chart does (the development stack, the benchmark and the
    tests), and wait until the API server applies it; False, with nothing installed, where it does not serve the
    API (Kubernetes < 1.36).

    The API server loads policies in the background: a create right after this returned could still miss the
    finalizer, so this waits until a dry-run create in a bound namespace comes back with it.
    """
    from sagemaker_operator.api.install import create_or_replace

    documents = (("mutatingadmissionpolicies", finalizer_policy(name)),
                 ("mutatingadmissionpolicybindings", finalizer_policy_binding(name, namespaces)))
    for plural, document in documents:
        if not create_or_replace(api_client, plural, document):
            return False
    wait_for_finalizer_policy(api_client, sorted(namespaces)[0] if namespaces else "default", timeout=timeout)
    return True


def wait_for_finalizer_policy(api_client: Any, namespace: str = "default", *, timeout: float = 30.0) -> None:
    """Wait until a dry-run create in ``namespace`` comes back with the operator's finalizer.

    Also after an API server (re)starts: until it has loaded the policy and the types of the operator's kinds, it
    answers creates of those kinds 503, for a few seconds ("Resource kind ... not found"), as it does right after a
    CRD is created.
    """
    import kubernetes

    api = kubernetes.client.CustomObjectsApi(api_client)
    probe = {"apiVersion": ENDPOINT.api_version, "kind": ENDPOINT.kind,
             "metadata": {"generateName": "finalizer-policy-probe-"},
             "spec": {"endpointConfigRef": {"name": "probe"}}}
    deadline = time.monotonic() + timeout
    while True:
        try:
            created: Any = api.create_namespaced_custom_object(GROUP, VERSION, namespace, ENDPOINT.plural, probe,
                                                               dry_run="All")
        except kubernetes.client.ApiException as error:
            # 503 and 404: the CRD, just Established, is not served by every part of the API server yet.
            if error.status not in (404, 503):
                raise
        else:
            if FINALIZER in (created.get("metadata", {}).get("finalizers") or ()):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API server did not apply the finalizer policy within {timeout:.0f} s")
        time.sleep(0.2)
