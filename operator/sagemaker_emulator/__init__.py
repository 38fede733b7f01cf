"""A local emulator of the Amazon SageMaker real-time hosting plane.

One aiohttp server speaks the wire protocols of SageMaker (JSON 1.1), SageMaker Runtime
(REST-JSON), Application Auto Scaling (JSON 1.1) and STS (query), so unmodified boto3, AWS CLI
and SageMaker Python SDK clients work against it via ``AWS_ENDPOINT_URL``. Requests are
validated against botocore's own service models; endpoint lifecycles (blue/green, canary,
linear, rolling, auto-rollback, failures) follow AWS's documented behaviour with configurable
durations. See docs/emulator.md.

Public API: :class:`sagemaker_emulator.server.EmulatorThread`,
:class:`sagemaker_emulator.admin.AdminClient` and the ``emulator`` click command in
:mod:`sagemaker_emulator.cli`.
"""

__all__ = ["AdminClient", "EmulatorThread"]

from .admin import AdminClient
from .server import EmulatorThread
