"""sagemaker-operator: Amazon SageMaker real-time inference hosting from Kubernetes custom resources."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sagemaker-operator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
