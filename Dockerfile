# The operator's container image: `sagemaker-operator run` as a non-root user, nothing else.
#
#   docker build -t sagemaker-operator:0.1.0 .
#
# BASE_IMAGE is any Debian-like image with Python >= 3.11 (`python3 -m venv` must work). The default is the
# official slim Python image; the image test (tests/chart/test_image.py) builds from a local Debian rootfs
# instead, because no registry is reachable there. Both stages use the same base, so the virtualenv copied from
# the first one finds the same interpreter in the second.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Optional, for builds behind a private package index or a TLS-intercepting proxy: build arguments reach the RUN
# steps of this stage as environment variables, and are not kept in the final image.
ARG PIP_INDEX_URL
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Every dependency is installed at the version constraints.txt pins (the versions the tests ran with), from
# wheels only: no compiler is needed, here or in the final image.
COPY constraints.txt pyproject.toml README.md ./
COPY operator/ operator/
# Then what the operator never loads goes: pip and setuptools, kubernetes' unused asyncio client (kubernetes.aio,
# 68 MB) and botocore's models of the AWS services it does not call (BOTOCORE_SERVICES lists those it keeps; add
# one there when the operator starts calling a new service). The last line proves the result still works.
ARG BOTOCORE_SERVICES="sagemaker sagemaker-runtime sts application-autoscaling"
RUN python3 -m venv /opt/sagemaker-operator \
 && /opt/sagemaker-operator/bin/pip install --only-binary=:all: -c constraints.txt . \
 && /opt/sagemaker-operator/bin/pip uninstall --yes pip setuptools \
 && site=$(/opt/sagemaker-operator/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && rm -rf "$site/kubernetes/aio" \
 && for service in "$site"/botocore/data/*/; do \
        name=$(basename "$service"); \
        case " $BOTOCORE_SERVICES " in *" $name "*) ;; *) rm -rf "$service" ;; esac; \
    done \
 && /opt/sagemaker-operator/bin/sagemaker-operator --version \
 && /opt/sagemaker-operator/bin/python -c "import boto3, sagemaker_operator.handlers; \
[boto3.client(s, region_name='us-east-1') for s in '$BOTOCORE_SERVICES'.split()]"

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="sagemaker-operator" \
      org.opencontainers.image.description="Kubernetes operator for Amazon SageMaker real-time inference hosting" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/sagemaker-operator /opt/sagemaker-operator
# The root file system is read-only in the chart: no bytecode is written at run time (pip compiled it at
# install), and HOME points at the /tmp emptyDir.
ENV PATH=/opt/sagemaker-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# A numeric user, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["sagemaker-operator", "run"]
