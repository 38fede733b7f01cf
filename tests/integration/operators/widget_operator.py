"""A minimal kopf operator used to prove the test harness: RBAC, status subresource, finalizers, events."""

from __future__ import annotations

from typing import Any

import kopf

GROUP = "testing.sagemaker.operator.dev"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # With a namespaced Role only, the operator may not list namespaces or CRDs cluster-wide.
    settings.scanning.disabled = True
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")


@kopf.on.create(GROUP, "v1", "widgets")
def create_widget(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    patch.status["phase"] = "Reconciled"
    patch.status["observedSize"] = spec["size"]
    kopf.info(body, reason="Reconciled", message=f"widget of size {spec['size']} reconciled")


@kopf.on.delete(GROUP, "v1", "widgets")
def delete_widget(logger: kopf.Logger, **_: Any) -> None:
    logger.info("widget released")
