"""The test harness's CRD install (every operator test runs it): the same body again is left as it is; a CRD
of ours installed from another body (an older generation, the chart's) is replaced; one installed without
``replace`` (Kubeflow's) is never touched; each is served."""

from __future__ import annotations

from typing import Any

import pytest

from pro.render.crds import crd
from pro.spec.conventions import API_GROUP, API_VERSION, CRD_BODY_DIGEST
from pro.spec.kinds import all_kinds
from pro.testing.kubeflow import install_crd
from pro.testing.operator import install_crds

pytestmark = pytest.mark.integration


def installed(ext: Any) -> dict[str, tuple[str, str]]:
    """Our CRDs on the server: name → (resourceVersion, body digest annotation)."""
    return {
        c.metadata.name: (
            c.metadata.resource_version,
            (c.metadata.annotations or {}).get(CRD_BODY_DIGEST, ""),
        )
        for c in ext.list_custom_resource_definition().items
        if c.spec.group == API_GROUP
    }


def test_the_same_crds_are_left_alone_and_a_crd_from_another_body_is_replaced(kube_cluster: Any) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    ext = client.ApiextensionsV1Api(api)
    try:
        install_crds(api)
        first = installed(ext)
        assert len(first) == len(all_kinds()) and all(digest for _, digest in first.values())

        install_crds(api)
        assert installed(ext) == first  # not written again

        name = next(iter(first))
        ext.patch_custom_resource_definition(name, {"metadata": {"annotations": {CRD_BODY_DIGEST: "older"}}})
        install_crds(api)
        now = installed(ext)
        assert now[name][1] == first[name][1] and now[name][0] != first[name][0]  # replaced
        assert {n: v for n, v in now.items() if n != name} == {n: v for n, v in first.items() if n != name}
        kind = next(k for k in all_kinds() if f"{k.plural}.{API_GROUP}" == name)
        client.CustomObjectsApi(api).list_cluster_custom_object(API_GROUP, API_VERSION, kind.plural, limit=1)

        # without replace (Kubeflow's CRDs, perhaps a real cluster's): one already there is never touched
        other = crd(kind)
        other["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "another body"
        install_crd(api, other)
        assert installed(ext) == now
    finally:
        api.close()
