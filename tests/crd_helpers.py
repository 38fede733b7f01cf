"""Installing the operator's CRDs into a test cluster (the CRD tests; the operator's tests as a session fixture)."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import yaml
from kubernetes.client import ApiClient

from sagemaker_operator.api.admission import install_finalizer_policy
from sagemaker_operator.api.install import install_crds

CRDS_FOLDER = Path(__file__).resolve().parent.parent / "crds"


def apply_crds(admin_client: ApiClient, folder: Path = CRDS_FOLDER, *, timeout: float = 60,
               finalizer_policy: bool = True) -> list[str]:
    """Create or replace every CRD in ``folder`` (``*.yaml``) and wait until each is Established; returns their names.

    Replacing keeps the server's copy current when the generator changed between runs on a reused cluster
    (TEST_KUBECONFIG). A CRD the API server refuses raises the ApiException, whose body names the bad schema field.
    With ``finalizer_policy``, the operator's finalizer policy is installed too, for every namespace, where the API
    server serves its API (Kubernetes >= 1.36), as the chart installs it: older servers test the operator adding its
    finalizer itself.
    """
    documents = [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]
    names = install_crds(admin_client, documents, timeout=timeout)
    if finalizer_policy:
        install_finalizer_policy(admin_client, timeout=timeout)
    return names


def server_minor(admin_client: ApiClient) -> int:
    """The API server's minor version (37 for 1.37.2; EKS reports "30+")."""
    info = kubernetes.client.VersionApi(admin_client).get_code()
    return int("".join(ch for ch in info.minor if ch.isdigit()) or 0)


def enforces_cel(admin_client: ApiClient) -> bool:
    """Whether the API server enforces CRD validation rules (CEL): Kubernetes >= 1.25, where they are on by default."""
    return server_minor(admin_client) >= 25
