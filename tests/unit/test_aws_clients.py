"""The client factory: retry configuration, one client per key, and forgetting credentials AWS refused."""

from __future__ import annotations

import pytest

from sagemaker_operator.aws.clients import AwsTarget, ClientFactory

ROLE = "arn:aws:iam::111122223333:role/deployer"
PLAIN = AwsTarget("eu-west-1")


@pytest.fixture(autouse=True)
def _offline_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Building clients reads no network; fixed keys keep the host's AWS configuration out of the test.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def test_standard_retry_mode_by_default_and_adaptive_on_request() -> None:
    target = AwsTarget("eu-west-1")
    standard = ClientFactory().client("sagemaker", target)
    assert standard.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    adaptive = ClientFactory(retry_mode="adaptive", max_attempts=3).client("sagemaker", target)
    assert adaptive.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 3}
    with pytest.raises(ValueError, match="retry mode must be one of standard, adaptive"):
        ClientFactory(retry_mode="legacy")  # type: ignore[arg-type]


def test_one_client_per_service_region_and_role_until_forgotten() -> None:
    factory = ClientFactory()
    plain, assumed = AwsTarget("eu-west-1"), AwsTarget("eu-west-1", ROLE)
    first = factory.client("sagemaker", assumed)
    assert factory.client("sagemaker", assumed) is first
    scaling = factory.client("application-autoscaling", assumed)
    other = factory.client("sagemaker", plain)
    assert other is not first
    factory.forget(assumed)
    # Every client of that region and role is built afresh (new credentials); others are kept.
    assert factory.client("sagemaker", assumed) is not first
    assert factory.client("application-autoscaling", assumed) is not scaling
    assert factory.client("sagemaker", plain) is other


def test_a_stale_client_is_forgotten_only_while_it_is_current() -> None:
    factory = ClientFactory()
    first = factory.client("sagemaker", PLAIN)
    factory.forget(PLAIN, stale=first)
    fresh = factory.client("sagemaker", PLAIN)
    assert fresh is not first
    factory.forget(PLAIN, stale=first)  # a second call that failed with the old client: the fresh one stays
    assert factory.client("sagemaker", PLAIN) is fresh
