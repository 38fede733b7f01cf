"""The custom resource API: spec schemas generated from botocore's SageMaker model, CRDs, and spec <-> AWS conversion.

Entry points for the rest of the operator:

* :data:`KINDS`, :func:`kind_named` and :class:`Kind` (names, CRD metadata, ``Kind.request`` for AWS requests);
* :func:`to_aws` / :func:`from_aws` for any shape, :func:`tags_to_aws`, :func:`tag_key_problems`;
* ``python -m sagemaker_operator.api.crds --write crds/`` regenerates the CRDs.
"""

from sagemaker_operator.api.convert import SpecError, from_aws, tags_from_aws, tags_to_aws, to_aws
from sagemaker_operator.api.kinds import (
    API_VERSION,
    ENDPOINT,
    ENDPOINT_CONFIG,
    GROUP,
    KINDS,
    MODEL,
    VERSION,
    Kind,
    kind_named,
)
from sagemaker_operator.api.rules import tag_key_problems
from sagemaker_operator.api.shapes import camel_name

__all__ = [
    "API_VERSION",
    "ENDPOINT",
    "ENDPOINT_CONFIG",
    "GROUP",
    "KINDS",
    "MODEL",
    "VERSION",
    "Kind",
    "SpecError",
    "camel_name",
    "from_aws",
    "kind_named",
    "tag_key_problems",
    "tags_from_aws",
    "tags_to_aws",
    "to_aws",
]
