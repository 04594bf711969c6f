"""The integration tier's real servers answer as the real thing does."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_s3_server_speaks_s3_over_http(s3_server, s3_bucket: str) -> None:
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3")  # the endpoint comes from AWS_ENDPOINT_URL, as for users
    assert s3.meta.endpoint_url == s3_server.endpoint_url
    s3.put_object(Bucket=s3_bucket, Key="a/b.txt", Body=b"hello")
    assert s3.get_object(Bucket=s3_bucket, Key="a/b.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.list_objects_v2(Bucket="does-not-exist")


def test_kube_apiserver_stores_and_rejects_stale_writes(kube_namespace) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core, ns = kube_namespace
    cm = core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="probe"), data={"a": "1"})
    )
    stale = cm.metadata.resource_version
    cm.data["a"] = "2"
    core.replace_namespaced_config_map("probe", ns, cm)
    cm.metadata.resource_version = stale
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("probe", ns, cm)
    assert exc.value.status == 409  # a real API server: optimistic concurrency
