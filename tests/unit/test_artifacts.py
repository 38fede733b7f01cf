"""Artifact tracking's pure parts: which artifacts a request names, pinning, identities in the revision."""

from __future__ import annotations

from sagemaker_operator.reconcile.artifacts import ArtifactIdentity, artifact_refs, pin, tracking_enabled
from sagemaker_operator.reconcile.model import render_model
from sagemaker_operator.reconcile.objects import KubeObject

REQUEST = {
    "PrimaryContainer": {
        "ModelDataUrl": "s3://m/a.tar.gz",
        "ModelDataSource": {"S3DataSource": {"S3Uri": "s3://m/b.tar.gz", "S3DataType": "S3Object",
                                             "CompressionType": "Gzip"}},
        "AdditionalModelDataSources": [{"ChannelName": "draft", "S3DataSource": {
            "S3Uri": "s3://m/draft/", "S3DataType": "S3Prefix", "CompressionType": "None"}}],
    },
    "Containers": [{"ModelDataSource": {"S3DataSource": {"S3Uri": "s3://m/c/", "S3DataType": "S3Prefix",
                                                         "CompressionType": "None"}}}],
}


def test_every_artifact_of_every_container_is_named_with_where_it_is() -> None:
    refs = artifact_refs(REQUEST)
    assert [(r.uri, r.prefix, r.pinnable, r.at) for r in refs] == [
        ("s3://m/a.tar.gz", False, False, "PrimaryContainer.ModelDataUrl"),
        ("s3://m/b.tar.gz", False, True, "PrimaryContainer.ModelDataSource.S3DataSource"),
        ("s3://m/draft/", True, False, "PrimaryContainer.AdditionalModelDataSources[0].S3DataSource"),
        ("s3://m/c/", True, False, "Containers[0].ModelDataSource.S3DataSource")]


def test_the_etag_seen_is_pinned_only_where_the_api_takes_it_and_the_spec_set_none() -> None:
    seen = [ArtifactIdentity("s3://m/a.tar.gz", etag="aaa"), ArtifactIdentity("s3://m/b.tar.gz", etag="bbb")]
    pinned = pin(REQUEST, seen)
    assert pinned["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["ETag"] == "bbb"
    assert "ETag" not in REQUEST["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]  # not changed in place
    own = {"PrimaryContainer": {"ModelDataSource": {"S3DataSource": {
        "S3Uri": "s3://m/b.tar.gz", "S3DataType": "S3Object", "ETag": "mine"}}}}
    assert pin(own, seen)["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["ETag"] == "mine"


def test_identities_make_the_revision_and_nothing_changes_without_tracking() -> None:
    obj = KubeObject.from_body({"kind": "SageMakerModel", "metadata": {"name": "m", "namespace": "ml"}, "spec": {
        "executionRoleArn": "arn:aws:iam::123456789012:role/r",
        "primaryContainer": {"image": "i", "modelDataUrl": "s3://m/a.tar.gz"}}})
    plain = render_model(obj, "c")
    first = render_model(obj, "c", [ArtifactIdentity("s3://m/a.tar.gz", etag="1")])
    second = render_model(obj, "c", [ArtifactIdentity("s3://m/a.tar.gz", etag="2")])
    assert len({plain.name, first.name, second.name}) == 3
    assert render_model(obj, "c", [ArtifactIdentity("s3://m/a.tar.gz", etag="1")]).name == first.name
    # The spec's own field is the operator's: not sent to AWS.
    tracked = KubeObject.from_body({**{"kind": "SageMakerModel", "metadata": {"name": "m", "namespace": "ml"}},
                                    "spec": {**obj.spec, "artifactTracking": "Disabled"}})
    assert "ArtifactTracking" not in render_model(tracked, "c").request


def test_the_spec_wins_over_the_operators_default_and_changes_are_told_in_words() -> None:
    assert tracking_enabled({}, True) and not tracking_enabled({}, False)
    assert tracking_enabled({"artifactTracking": "Enabled"}, False)
    assert not tracking_enabled({"artifactTracking": "Disabled"}, True)
    before, after = ArtifactIdentity("s3://m/a", etag="1", version_id="v1"), ArtifactIdentity("s3://m/a", etag="2",
                                                                                              version_id="v2")
    assert after.change_from(before) == "s3://m/a: version v1 -> v2"
    assert ArtifactIdentity("s3://m/a", etag="2").change_from(ArtifactIdentity("s3://m/a", etag="1")) == \
        "s3://m/a: ETag 1 -> 2"
    status = after.as_status()
    assert status == {"uri": "s3://m/a", "etag": "2", "versionId": "v2"}
    assert ArtifactIdentity.from_status(status) == after
