"""The plan command's reading of manifests and its choice of what to plan: pure, no server."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator.plugin.common import PluginError
from sagemaker_operator.plugin.plan import affected, cluster_id_of, load_manifests
from sagemaker_operator.reconcile.objects import ENDPOINT, ENDPOINT_CONFIG, MODEL, KubeObject, ObjectRef, ObjectStore

API = "sagemaker.operator.dev/v1alpha1"


def _doc(kind: str, name: str, spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name, "namespace": "ml", "uid": name},
            "spec": spec or {}, "status": status}


def test_files_folders_lists_json_and_stdin_are_read_as_kubectl_reads_them(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([_doc(MODEL, "a"), {"apiVersion": "v1", "kind": "ConfigMap",
                                                                          "metadata": {"name": "other"}}]))
    (tmp_path / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        _doc(ENDPOINT_CONFIG, "b"), {"apiVersion": "v1", "kind": "List", "items": [_doc(ENDPOINT, "c")]}]}))
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub" / "d.yml").write_text(yaml.safe_dump(_doc(MODEL, "d")))

    def names(objects: list[KubeObject]) -> list[str]:
        return [f"{o.kind}/{o.name}" for o in objects]

    assert names(load_manifests([str(tmp_path)], "ml")) == [
        f"{MODEL}/a", f"{ENDPOINT_CONFIG}/b", f"{ENDPOINT}/c"]
    assert names(load_manifests([str(tmp_path)], "ml", recursive=True))[-1] == f"{MODEL}/d"
    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(_doc(MODEL, "piped"))))
    assert names(load_manifests(["-"], "ml")) == [f"{MODEL}/piped"]
    with pytest.raises(PluginError, match="no such file"):
        load_manifests([str(tmp_path / "missing.yaml")], "ml")
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**_doc(MODEL, "x"), "metadata": {"name": "x", "namespace": "prod"}}))
    with pytest.raises(PluginError, match="namespace prod"):
        load_manifests([str(other)], "ml")


def test_the_cluster_id_comes_from_the_flag_else_the_objects_status() -> None:
    live = [KubeObject.from_body(_doc(MODEL, "a", clusterId="dev-me")), KubeObject.from_body(_doc(MODEL, "b"))]
    assert cluster_id_of(live, None) == "dev-me"
    assert cluster_id_of(live, "explicit") == "explicit"
    assert cluster_id_of([], None) == "default"
    with pytest.raises(PluginError, match="dev-me, prod"):
        cluster_id_of([*live, KubeObject.from_body(_doc(MODEL, "c", clusterId="prod"))], None)


def test_a_changed_model_plans_its_configs_and_their_endpoints_only() -> None:
    store = ObjectStore()
    for body in (_doc(MODEL, "m"), _doc(MODEL, "other"),
                 _doc(ENDPOINT_CONFIG, "c", {"productionVariants": [{"variantName": "a", "modelRef": {"name": "m"}}]}),
                 _doc(ENDPOINT_CONFIG, "d", {"productionVariants": [{"variantName": "a",
                                                                     "modelRef": {"name": "other"}}]}),
                 _doc(ENDPOINT, "e", {"endpointConfigRef": {"name": "c"}}),
                 _doc(ENDPOINT, "f", {"endpointConfigRef": {"name": "d"}})):
        store.put(KubeObject.from_body(body))
    assert affected(store, [ObjectRef(MODEL, "ml", "m")]) == {
        ObjectRef(MODEL, "ml", "m"), ObjectRef(ENDPOINT_CONFIG, "ml", "c"), ObjectRef(ENDPOINT, "ml", "e")}
    assert affected(store, [ObjectRef(ENDPOINT, "ml", "f")]) == {ObjectRef(ENDPOINT, "ml", "f")}
