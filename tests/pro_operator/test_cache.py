"""The informer cache: newest resourceVersion wins, echoes are no news, label indexes, trimmed bodies,
and every read is the caller's own copy."""

from __future__ import annotations

from typing import Any

import pytest

from pro_operator.cache import ObjectCache
from pro_operator.context import Memo

pytestmark = pytest.mark.unit

STAGE = "pro.alignment.dev/stage-resource"


def body(name: str, rv: int, *, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Thing",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": str(rv),
            "labels": labels or {},
            "managedFields": [{"manager": "x"}],
        },
        **extra,
    }


def test_newest_resource_version_wins_and_an_echo_is_no_news() -> None:
    cache = ObjectCache()
    assert cache.put("things", body("a", 5, status={"phase": "Running"})) is True
    assert cache.put("things", body("a", 5, status={"phase": "Running"})) is False  # the watch's echo
    assert cache.put("things", body("a", 3, status={"phase": "Pending"})) is False  # late
    assert cache.phase("things", "ns", "a") == "Running"
    assert cache.put("things", body("a", 7, status={"phase": "Succeeded"})) is True
    assert cache.phase("things", "ns", "a") == "Succeeded"
    assert cache.get("things", "ns", "a")["status"] == {"phase": "Succeeded"}  # type: ignore[index]
    assert cache.phase("things", "ns", "missing") is None and cache.get("things", "ns", "missing") is None


def test_reads_are_copies_without_managed_fields_and_jobs_lose_pod_templates() -> None:
    cache = ObjectCache()
    cache.put("things", body("a", 1, spec={"x": [1, {"y": "ü"}]}))
    got = cache.get("things", "ns", "a")
    assert (
        got is not None and "managedFields" not in got["metadata"] and got["spec"] == {"x": [1, {"y": "ü"}]}
    )
    got["spec"]["x"].append(2)
    assert cache.get("things", "ns", "a")["spec"] == {"x": [1, {"y": "ü"}]}  # type: ignore[index]
    cache.put("pytorchjobs", body("j", 1, spec={"runPolicy": {"suspend": True}, "pytorchReplicaSpecs": {}}))
    assert cache.get("pytorchjobs", "ns", "j")["spec"] == {"runPolicy": {"suspend": True}}  # type: ignore[index]


def test_label_index_follows_relabels_and_removals() -> None:
    cache = ObjectCache()
    cache.put("pytorchjobs", body("s-1", 1, labels={STAGE: "s"}))
    cache.put("pytorchjobs", body("s-2", 2, labels={STAGE: "s"}))
    cache.put("pytorchjobs", body("t-1", 3, labels={STAGE: "t"}))
    assert [j["metadata"]["name"] for j in cache.by_label("pytorchjobs", "ns", STAGE, "s")] == ["s-1", "s-2"]
    cache.put("pytorchjobs", body("s-2", 4, labels={STAGE: "t"}))
    assert [j["metadata"]["name"] for j in cache.by_label("pytorchjobs", "ns", STAGE, "s")] == ["s-1"]
    assert [j["metadata"]["name"] for j in cache.by_label("pytorchjobs", "ns", STAGE, "t")] == ["s-2", "t-1"]
    cache.remove("pytorchjobs", "ns", "s-1")
    cache.remove("pytorchjobs", "ns", "never-there")
    assert cache.by_label("pytorchjobs", "ns", STAGE, "s") == []
    assert sorted(k[2] for k in cache.keys("pytorchjobs")) == ["s-2", "t-1"] and len(cache) == 2


def test_memo_keeps_the_most_recently_used_and_does_not_keep_errors() -> None:
    memo = Memo(size=2)
    computed: list[str] = []

    def compute(key: str) -> str:
        computed.append(key)
        return key.upper()

    assert memo.get("a", lambda: compute("a")) == "A"
    assert memo.get("b", lambda: compute("b")) == "B"
    assert memo.get("a", lambda: compute("a")) == "A"  # a is now the most recent
    assert memo.get("c", lambda: compute("c")) == "C"  # b is forgotten
    assert memo.get("a", lambda: compute("a")) == "A" and memo.get("b", lambda: compute("b")) == "B"
    assert computed == ["a", "b", "c", "b"] and len(memo) == 2

    def fail() -> str:
        raise ValueError("bad spec")

    for _ in range(2):
        with pytest.raises(ValueError, match="bad spec"):
            memo.get("bad", fail)
    assert len(memo) == 2


def job(
    name: str, rv: int, owner: str, *conditions: str, suspend: bool = False, **annotations: str
) -> dict[str, Any]:
    out = body(
        name, rv, spec={"runPolicy": {"suspend": suspend}},
        status={"conditions": [{"type": c, "status": "True"} for c in conditions]},
    )  # fmt: skip
    out["metadata"]["ownerReferences"] = [{"kind": "RewardModelTraining", "name": owner, "controller": True}]
    out["metadata"]["annotations"] = annotations
    return out


def test_jobs_hold_a_running_slot_until_they_end_are_suspended_or_given_up() -> None:
    cache = ObjectCache()
    cache.put("pytorchjobs", job("a-1", 1, "a", "Created", "Running"))
    cache.put("pytorchjobs", job("b-1", 2, "b", "Created"))  # not running yet: its pods hold resources
    cache.put("pytorchjobs", job("c-1", 3, "c", "Succeeded"))
    cache.put("pytorchjobs", job("d-1", 4, "d", suspend=True))
    cache.put("pytorchjobs", job("e-1", 5, "e", **{"pro.alignment.dev/abandoned": "stuck"}))
    cache.put("trainjobs", job("f-1", 6, "f"))
    cache.put("trainjobs", job("g-1", 7, "g", "Complete"))
    assert cache.running_jobs("ns") == {
        ("pytorchjobs", "a-1"): ("RewardModelTraining", "a"),
        ("pytorchjobs", "b-1"): ("RewardModelTraining", "b"),
        ("trainjobs", "f-1"): ("RewardModelTraining", "f"),
    }
    cache.put("pytorchjobs", job("a-1", 8, "a", "Failed"))
    cache.remove("trainjobs", "ns", "f-1")
    assert list(cache.running_jobs("ns")) == [("pytorchjobs", "b-1")]
    assert cache.running_jobs("other") == {}


def test_the_phase_index_follows_status_changes() -> None:
    cache = ObjectCache()
    cache.put("rewardmodeltrainings", body("x", 1, status={"phase": "Queued"}))
    cache.put("rewardmodeltrainings", body("y", 1, status={"phase": "Queued"}))
    cache.put("adaptertrainings", body("z", 1, status={"phase": "Queued"}))
    assert cache.in_phase("rewardmodeltrainings", "ns", "Queued") == ["x", "y"]
    cache.put("rewardmodeltrainings", body("x", 2, status={"phase": "Running"}))
    cache.remove("rewardmodeltrainings", "ns", "y")
    assert cache.in_phase("rewardmodeltrainings", "ns", "Queued") == []
    assert cache.in_phase("rewardmodeltrainings", "ns", "Running") == ["x"]
