"""The operator's kinds with kubectl and GitOps tools, against the real API server and the operator on the emulator.

Server-side apply: every example applies with ``kubectl apply --server-side``; the operator's field manager owns
only ``metadata.finalizers`` and ``status``, never a ``spec`` field; a second field manager changing one spec field
does not conflict, and the only conflicts the first manager ever sees are with that second manager; a server-side
dry-run apply of the applied manifests (what Argo CD's Server-Side Diff does) finds no difference once the operator
has reconciled.

kubectl conventions: printer columns, ``kubectl explain`` down to every spec field with its description,
``kubectl wait --for=condition=Ready``, the ``sagemaker`` category and the short names, for every kind.
(tests/integration/test_crds.py covers the endpoint's columns on a hand-written status, one explained field and
the category with two kinds; this file covers every kind on objects the operator made Ready.)

Argo CD and server-side apply, for the comments below:

* ``ServerSideApply=true`` syncs with server-side apply under the field manager ``argocd-controller`` (the constant
  ``ArgoCDSSAManager`` in argoproj/argo-cd common/common.go).
* Whether a resource is Synced is a diff of desired and live state. Argo CD's Server-Side Diff (the diff strategy
  that replaces the Structured-Merge Diff which ``ServerSideApply=true`` used to imply; stable since Argo CD 3.1)
  "will execute a Server-Side Apply in dryrun mode for each resource of the application. The response of this
  operation is then compared with the live state" (https://argo-cd.readthedocs.io/en/stable/user-guide/
  diff-strategies/, enabled with ``argocd.argoproj.io/compare-options: ServerSideDiff=true``).
  ``kubectl diff --server-side --field-manager=argocd-controller`` makes the same dry-run request and compares
  the whole objects, status included, which is at least as strict: when it finds no difference, Argo CD
  finds none either.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.api.kinds import FINALIZER, GROUP, KINDS, KINDS_BY_NAME, VERSION, Kind
from sagemaker_operator.dev.examples import EXAMPLES_DIR, load_manifests
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.operator_harness import Objects, counters, running_operator, sagemaker, seed_example_data

pytestmark = pytest.mark.cluster

FOLDERS = sorted(path for path in EXAMPLES_DIR.iterdir() if path.is_dir())
# Together they have an object of every kind: the tests that look at every kind on Ready objects use them.
COMPONENTS_EXAMPLE = EXAMPLES_DIR / "inference-components"
EVERY_KIND_EXAMPLES = (COMPONENTS_EXAMPLE, EXAMPLES_DIR / "batch-transform")

# The GitOps tool that applies the manifests: Argo CD's server-side apply manager.
APPLIER = "argocd-controller"
# Someone else who changes one field of the same objects with server-side apply.
PLATFORM = "platform-team"
# Every field manager the operator writes with: its finalizer (a JSON patch), its status (merge patches of the
# status subresource) and its events all carry this name. kopf writes nothing to these objects: the operator
# registers only event handlers (no kopf finalizer, no progress annotations) and turns kopf's own event posting off.
OPERATOR_MANAGERS = frozenset({"sagemaker-operator"})

ARN_FIELD = {"SageMakerModel": "modelArn", "SageMakerEndpointConfig": "endpointConfigArn",
             "SageMakerEndpoint": "endpointArn", "SageMakerInferenceComponent": "inferenceComponentArn",
             "SageMakerTransformJob": "jobArn"}
CONFLICT = re.compile(r'conflicts? with "([^"]+)"')


# --- kubectl ----------------------------------------------------------------------------------------------------


def _kubectl(kube: KubeTarget, *args: str, check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the server's own kubectl on the test cluster; with ``check``, fail showing stderr unless it exits 0."""
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig)}
    result = subprocess.run([kube.kubectl, *args], capture_output=True, text=True, env=env, timeout=timeout,
                            check=False)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


@functools.cache
def _minors(kubectl: str, kubeconfig: Path) -> tuple[int, int]:
    """The minor versions of kubectl and of the API server (20 for 1.20.2; EKS's "30+" is 30)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    answer = subprocess.run([kubectl, "version", "-o", "json"], capture_output=True, text=True, env=env, timeout=60,
                            check=True)
    versions = json.loads(answer.stdout)
    client, server = (int("".join(ch for ch in versions[side]["minor"] if ch.isdigit()))
                      for side in ("clientVersion", "serverVersion"))
    return client, server


def _partial_manifest_flags(kube: KubeTarget) -> list[str]:
    """Flags a second manager needs to apply a partial manifest (only the fields it manages).

    kubectl before 1.25 (and any kubectl talking to a server before 1.25, which lacks server-side field validation)
    validates a manifest itself against the published schema, required fields included, and so refuses a partial
    one before it reaches the server. ``--validate=false`` leaves validation to the API server, which validates the
    merged object as it always does: that is what newer kubectl does without the flag.
    """
    return ["--validate=false"] if min(_minors(kube.kubectl, kube.kubeconfig)) < 25 else []


def _apply(kube: KubeTarget, namespace: str, path: Path, manager: str, *extra: str,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """``kubectl apply --server-side`` of a file or folder (recursively) as field manager ``manager``."""
    if manager != APPLIER:
        extra = (*_partial_manifest_flags(kube), *extra)
    return _kubectl(kube, "apply", "--server-side", f"--field-manager={manager}", *extra, "-n", namespace,
                    "-R", "-f", str(path), check=check)


def _diff(kube: KubeTarget, namespace: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``kubectl diff --server-side`` as the applier: a server-side dry-run apply compared with the live objects.

    Exit code 0 means no difference, 1 a difference (on stdout); anything else is an error, which fails here.
    """
    result = _kubectl(kube, "diff", "--server-side", f"--field-manager={APPLIER}", *extra, "-n", namespace, "-R",
                      "-f", str(path), check=False)
    assert result.returncode in (0, 1), f"kubectl diff failed ({result.returncode}):\n{result.stderr}"
    return result


def _wait_in_sync(kube: KubeTarget, namespace: str, path: Path, *, timeout: float = 30) -> None:
    """Wait until ``kubectl diff --server-side`` finds no difference; fail with the last diff.

    The operator may still be writing status right after Ready (kubectl reads the live object and then asks for the
    dry run, so a write in between shows up as a difference of that moment); a difference that stays is a failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = _diff(kube, namespace, path)
        if result.returncode == 0:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"kubectl diff --server-side still differs after {timeout:.0f} s (Argo CD would "
                                 f"report OutOfSync):\n{result.stdout}")
        time.sleep(0.5)


def _names(output: str) -> set[str]:
    """The ``kind.group/name`` lines of ``kubectl ... -o name`` (or of apply's output, without the verb)."""
    return {line.split()[0] for line in output.splitlines() if line.strip()}


def _object_name(kind: str, name: str) -> str:
    """How kubectl names an object of ours in ``-o name`` and apply output: ``sagemakermodel.<group>/<name>``."""
    return f"{KINDS_BY_NAME[kind].singular}.{GROUP}/{name}"


# --- managed fields -----------------------------------------------------------------------------------------------


def _entries(obj: dict[str, Any], managers: frozenset[str] | set[str]) -> list[dict[str, Any]]:
    """The managedFields entries of ``obj`` written by any of ``managers``."""
    return [entry for entry in obj["metadata"].get("managedFields") or [] if entry["manager"] in managers]


def _owns(entries: list[dict[str, Any]], *path: str) -> bool:
    """Whether one of ``entries`` owns the field at ``path`` (fieldsV1 keys, e.g. ``"f:spec", "f:tags"``)."""
    for entry in entries:
        node: Any = entry.get("fieldsV1") or {}
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return True
    return False


def _managers(obj: dict[str, Any]) -> set[str]:
    return {entry["manager"] for entry in obj["metadata"].get("managedFields") or []}


def _assert_operator_owns_no_spec(obj: dict[str, Any], others: set[str]) -> None:
    """The operator wrote this object under its own manager names only, and owns its status but no ``spec`` field;
    every other manager is one of ``others`` (the test's own writers). Its finalizer is the operator's, or nobody's
    where the finalizer policy put it there at creation: never the applier's, whose next apply would remove it."""
    what = f"{obj['kind']} {obj['metadata']['name']}"
    managers = _managers(obj)
    unknown = managers - others - OPERATOR_MANAGERS
    assert not unknown, f"{what}: written by field managers {sorted(unknown)}, neither the test's {sorted(others)} " \
                        f"nor the operator's {sorted(OPERATOR_MANAGERS)}"
    operator = _entries(obj, OPERATOR_MANAGERS)
    assert operator, f"{what}: nothing written under the operator's managers {sorted(OPERATOR_MANAGERS)}; " \
                     f"managers: {sorted(managers)}"
    # The fields the operator is expected to write: proof that these entries are the operator's.
    assert _owns(operator, "f:status"), f"{what}: the operator does not own status"
    assert FINALIZER in obj["metadata"].get("finalizers", []), f"{what}: without the operator's finalizer"
    finalizer_owners = {entry["manager"] for entry in obj["metadata"].get("managedFields") or []
                        if _owns([entry], "f:metadata", "f:finalizers")}
    assert finalizer_owners <= OPERATOR_MANAGERS, f"{what}: the finalizer is owned by {sorted(finalizer_owners)}"
    owning_spec = sorted({entry["manager"] for entry in operator if "f:spec" in (entry.get("fieldsV1") or {})})
    assert not owning_spec, f"{what}: the operator's manager {owning_spec} owns spec fields: " \
                            f"{[entry['fieldsV1']['f:spec'] for entry in operator if 'f:spec' in entry['fieldsV1']]}"


# --- objects ------------------------------------------------------------------------------------------------------


def _wait_ready(objects: Objects, documents: list[dict[str, Any]], timeout: float = 60) -> dict[str, dict[str, Any]]:
    """Wait until every object of ``documents`` is Ready for its current generation; ``kind/name`` -> object."""
    return {f"{doc['kind']}/{doc['metadata']['name']}": objects.wait_condition(
        doc["kind"], doc["metadata"]["name"], "Ready", timeout=timeout) for doc in documents}


def _aws_tags(emulator: EmulatorThread, obj: dict[str, Any]) -> dict[str, str]:
    """The AWS tags of the resource the operator made for ``obj`` (found by the ARN in its status)."""
    arn = obj["status"][ARN_FIELD[obj["kind"]]]
    return {t["Key"]: t["Value"] for t in sagemaker(emulator.url).list_tags(ResourceArn=arn)["Tags"]}


class TagNotApplied(AssertionError):
    """A tag in an object's spec did not reach its AWS resource."""


def _wait_aws_tag(emulator: EmulatorThread, obj: dict[str, Any], *, timeout: float) -> None:
    """Wait until the AWS resource of ``obj`` carries the platform team's cost-center tag; else TagNotApplied."""
    try:
        wait_for(lambda: _aws_tags(emulator, obj).get("cost-center") == "ml-4711", timeout=timeout,
                 what=f"the cost-center tag on the AWS resource of {obj['kind']} {obj['metadata']['name']}")
    except AssertionError as missing:
        raise TagNotApplied(str(missing)) from None


def _write_manifests(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def _tagged(kind: str, name: str) -> dict[str, Any]:
    """The platform team's partial manifest: only the one field it manages, a cost-center tag."""
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name},
            "spec": {"tags": {"cost-center": "ml-4711"}}}


@pytest.fixture
def every_kind(emulator: EmulatorThread, tmp_path: Path) -> Path:
    """One folder with the manifests of the examples that together have every kind, their input data in S3."""
    folder = tmp_path / "every-kind"
    folder.mkdir()
    for example in EVERY_KIND_EXAMPLES:
        seed_example_data(emulator.url, example)
        for manifest in sorted(example.glob("*.yaml")):
            shutil.copy(manifest, folder / f"{example.name}-{manifest.name}")
    return folder


@pytest.fixture
def every_kind_ready(kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str,
                     emulator: EmulatorThread, tmp_path: Path, every_kind: Path) -> Iterator[list[dict[str, Any]]]:
    """The examples with every kind, applied server-side with the operator running; yields their documents once all
    objects are Ready (the operator keeps running until the test ends)."""
    documents = load_manifests(every_kind)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, every_kind, APPLIER)
        _wait_ready(Objects(admin_client, namespace), documents)
        yield documents


# --- server-side apply ----------------------------------------------------------------------------------------------


def test_the_examples_have_every_kind() -> None:
    """The example tests below cover every kind only if the examples do."""
    kinds = {doc["kind"] for folder in FOLDERS for doc in load_manifests(folder)}
    assert kinds == {kind.kind for kind in KINDS}
    assert {doc["kind"] for folder in EVERY_KIND_EXAMPLES for doc in load_manifests(folder)} == {
        kind.kind for kind in KINDS}


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_example_applies_server_side_and_stays_in_sync(
        folder: Path, kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str,
        emulator: EmulatorThread, tmp_path: Path) -> None:
    """Applied as Argo CD with ServerSideApply=true does it, every object becomes Ready, the operator owns no spec
    field, and a server-side dry-run apply of the same manifests (Argo CD's Server-Side Diff) finds no difference."""
    objects = Objects(admin_client, namespace)
    documents = load_manifests(folder)
    seed_example_data(emulator.url, folder)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        applied = _apply(kube, namespace, folder, APPLIER)
        assert applied.stdout.split() == [word for doc in documents for word in (
            _object_name(doc["kind"], doc["metadata"]["name"]), "serverside-applied")], applied.stdout
        ready = _wait_ready(objects, documents)
        for obj in ready.values():
            # The manifest's fields are the applier's (operation Apply): the operator took none of them over.
            assert _owns([e for e in _entries(obj, {APPLIER}) if e["operation"] == "Apply"], "f:spec")
            _assert_operator_owns_no_spec(obj, {APPLIER})
        _wait_in_sync(kube, namespace, folder)


def test_a_second_field_manager_changes_a_field_without_conflicting_with_the_operator(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path, every_kind: Path) -> None:
    """A platform team adds a tag to every object with its own field manager; later it takes over a field that Git
    sets. The applier's conflicts are only ever with the platform team, never with the operator."""
    objects = Objects(admin_client, namespace)
    documents = load_manifests(every_kind)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, every_kind, APPLIER)
        before = _wait_ready(objects, documents)

        # A partial manifest: only the field the platform team manages. No --force-conflicts: nobody owns it yet.
        tags = _write_manifests(tmp_path / "tags.yaml", [_tagged(doc["kind"], doc["metadata"]["name"])
                                                         for doc in documents])
        result = _apply(kube, namespace, tags, PLATFORM, check=False)
        assert result.returncode == 0, f"the platform team's tag conflicted:\n{result.stderr}"

        after = _wait_ready(objects, documents)
        for key, obj in after.items():
            assert obj["metadata"]["generation"] > before[key]["metadata"]["generation"], key
            assert obj["spec"]["tags"]["cost-center"] == "ml-4711"
            assert _owns(_entries(obj, {PLATFORM}), "f:spec", "f:tags", "f:cost-center"), key
            _assert_operator_owns_no_spec(obj, {APPLIER, PLATFORM})
            # Reconciled, not only acknowledged: the tag reached the AWS resource.
            _wait_aws_tag(emulator, obj, timeout=30)

        # Git does not mention the tag: re-applying it conflicts with nobody, keeps the tag, and Argo CD stays Synced.
        _apply(kube, namespace, every_kind, APPLIER)
        assert (objects.get("SageMakerModel", "chat") or {})["spec"]["tags"] == {"cost-center": "ml-4711"}
        _wait_in_sync(kube, namespace, every_kind)

        # The platform team takes over a field Git sets (it must force: the applier owns it). An apply is the
        # manager's whole intent, so the tag stays in it: left out, it would be removed (and on Kubernetes 1.20 leave
        # spec.tags null, which the schema refuses: kubernetes-sigs/structured-merge-diff#171, fixed in 1.21).
        platform_embeddings = _tagged("SageMakerInferenceComponent", "embeddings")
        platform_embeddings["spec"]["runtimeConfig"] = {"copyCount": 3}
        copies = _write_manifests(tmp_path / "copies.yaml", [platform_embeddings])
        refused = _apply(kube, namespace, copies, PLATFORM, check=False)
        assert refused.returncode != 0 and set(CONFLICT.findall(refused.stderr)) == {APPLIER}, refused.stderr
        _apply(kube, namespace, copies, PLATFORM, "--force-conflicts")
        objects.wait_condition("SageMakerInferenceComponent", "embeddings", "Ready", timeout=60)
        # Argo CD now sees a difference (Git says 2): the dry run shows it, so the in-sync checks above can fail.
        drift = _diff(kube, namespace, every_kind, "--force-conflicts")
        assert drift.returncode == 1 and "copyCount: 3" in drift.stdout, drift.stdout

        # Git's manifest again: the only conflict is with the platform team, on that one field; never the operator.
        conflict = _apply(kube, namespace, every_kind, APPLIER, check=False)
        assert conflict.returncode != 0
        assert set(CONFLICT.findall(conflict.stderr)) == {PLATFORM}, conflict.stderr
        assert ".spec.runtimeConfig.copyCount" in conflict.stderr, conflict.stderr
        assert not OPERATOR_MANAGERS & set(CONFLICT.findall(conflict.stderr))

        # As Argo CD syncs (it forces): Git's value wins, the operator reconciles it, and everything is in sync.
        _apply(kube, namespace, every_kind, APPLIER, "--force-conflicts")
        component = objects.wait_condition("SageMakerInferenceComponent", "embeddings", "Ready", timeout=60)
        assert component["spec"]["runtimeConfig"]["copyCount"] == 2
        assert component["spec"]["tags"] == {"cost-center": "ml-4711"}
        assert _owns(_entries(component, {APPLIER}), "f:spec", "f:runtimeConfig", "f:copyCount")
        assert not _owns(_entries(component, {PLATFORM}), "f:spec", "f:runtimeConfig")
        wait_for(lambda: sagemaker(emulator.url).describe_inference_component(InferenceComponentName="embeddings")[
            "RuntimeConfig"]["DesiredCopyCount"] == 2, timeout=30, what="two copies of embeddings in SageMaker")
        for obj in _wait_ready(objects, documents).values():
            _assert_operator_owns_no_spec(obj, {APPLIER, PLATFORM})
        _wait_in_sync(kube, namespace, every_kind)


def test_an_endpoint_tag_changed_while_its_config_reconciles_reaches_aws(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    """The platform team tags a config and its endpoint; the endpoint's change arrives while the config is still
    being reconciled (its tagging made slow, so that this is what happens every time, not only sometimes). The
    endpoint's pass that waits for the config observes the new generation without tagging: the tags reach AWS
    anyway, because status records which tags AWS has (tagsDigest), not only which generation was seen."""
    objects = Objects(admin_client, namespace)
    folder = EXAMPLES_DIR / "single-model"
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, folder, APPLIER)
        _wait_ready(objects, load_manifests(folder))
        emulator.admin.set_fault("AddTags", latency_ms=3000, count=1)
        listed = counters(emulator).get("ListTags", 0)
        _apply(kube, namespace, _write_manifests(tmp_path / "config.yaml", [_tagged("SageMakerEndpointConfig",
                                                                                    "sentiment")]), PLATFORM)
        # The config's reconcile has looked at its AWS tags and is now adding the new one (slowly).
        wait_for(lambda: counters(emulator).get("ListTags", 0) > listed, timeout=30,
                 what="the config's reconcile to read its AWS tags")
        _apply(kube, namespace, _write_manifests(tmp_path / "endpoint.yaml", [_tagged("SageMakerEndpoint",
                                                                                      "sentiment")]), PLATFORM)
        endpoint = objects.wait_condition("SageMakerEndpoint", "sentiment", "Ready", timeout=60)
        objects.wait_condition("SageMakerEndpointConfig", "sentiment", "Ready", timeout=60)
        _wait_aws_tag(emulator, endpoint, timeout=10)


def test_an_inference_component_tag_change_reaches_aws(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    """The platform team tags one inference component; nothing else changes."""
    objects = Objects(admin_client, namespace)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, COMPONENTS_EXAMPLE, APPLIER)
        _wait_ready(objects, load_manifests(COMPONENTS_EXAMPLE))
        _apply(kube, namespace, _write_manifests(tmp_path / "tags.yaml", [
            _tagged("SageMakerInferenceComponent", "embeddings")]), PLATFORM)
        component = objects.wait_condition("SageMakerInferenceComponent", "embeddings", "Ready", timeout=60)
        assert component["metadata"]["generation"] == 2
        _wait_aws_tag(emulator, component, timeout=10)


def test_the_operator_writes_under_its_own_field_manager(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    """A tool built on the Kubernetes Python client that writes spec (``kubectl sagemaker rollback`` patches
    spec.endpointConfigName that way) is recorded under the client's default manager name, derived from its
    User-Agent. The operator uses the same client: unless it names itself, its finalizer and status writes land
    under that same name, and managedFields can no longer tell whether the operator owns spec."""
    objects = Objects(admin_client, namespace)
    folder = EXAMPLES_DIR / "single-model"
    documents = load_manifests(folder)
    # The API server names an Update without fieldManager after the User-Agent, up to its first "/".
    python_client = str(admin_client.user_agent).split("/")[0]
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, folder, APPLIER)
        _wait_ready(objects, documents)
        objects.patch("SageMakerEndpoint", "sentiment", {"spec": {"tags": {"owner": "script"}}})
        endpoint = objects.wait_condition("SageMakerEndpoint", "sentiment", "Ready", timeout=60)
        assert _owns(_entries(endpoint, {python_client}), "f:spec", "f:tags", "f:owner")
        assert python_client not in OPERATOR_MANAGERS
        _assert_operator_owns_no_spec(endpoint, {APPLIER, python_client})


# --- kubectl conventions ------------------------------------------------------------------------------------------


def test_kubectl_wait_returns_once_the_operator_makes_objects_ready(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path, every_kind: Path) -> None:
    """``kubectl wait --for=condition=Ready`` started before the objects are Ready returns success once the operator
    makes them Ready (one object of every kind), and times out on an object that never becomes Ready."""
    documents = load_manifests(every_kind)
    targets = [f"{KINDS_BY_NAME[doc['kind']].short_names[0]}/{doc['metadata']['name']}" for doc in documents]
    env = {**os.environ, "KUBECONFIG": str(kube.kubeconfig)}
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(kube, namespace, every_kind, APPLIER)
        waiting = subprocess.Popen([kube.kubectl, "wait", "--for=condition=Ready", "--timeout=90s", "-n", namespace,
                                    *targets], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            # Started while the endpoint is still being created (the emulator takes a second): it really waited.
            assert (Objects(admin_client, namespace).condition("SageMakerEndpoint", "assistants", "Ready") or {}).get(
                "status") != "True", "the endpoint was Ready before kubectl wait started: nothing was waited for"
            stdout, stderr = waiting.communicate(timeout=120)
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait()
        assert waiting.returncode == 0, stderr
        assert _names(stdout) == {_object_name(doc["kind"], doc["metadata"]["name"]) for doc in documents}
        assert stdout.count("condition met") == len(documents), stdout

        # An endpoint whose config does not exist never becomes Ready: kubectl wait fails when its time is up.
        Objects(admin_client, namespace).create("SageMakerEndpoint", "orphan", {"endpointConfigRef": {"name": "none"}})
        timed_out = _kubectl(kube, "wait", "--for=condition=Ready", "--timeout=3s", "-n", namespace,
                             "smendpoint/orphan", check=False)
        assert timed_out.returncode != 0 and "timed out" in timed_out.stderr, timed_out.stderr


def _column_value(obj: dict[str, Any], json_path: str) -> str:
    """What kubectl shows for ``json_path`` (the two forms the CRDs use) on ``obj``; "" when it is missing."""
    condition = re.fullmatch(r'\.status\.conditions\[\?\(@\.type=="(\w+)"\)\]\.(\w+)', json_path)
    if condition:
        kind, member = condition.groups()
        found = [c.get(member) for c in obj.get("status", {}).get("conditions", []) if c.get("type") == kind]
        return "" if not found or found[0] is None else str(found[0])
    assert re.fullmatch(r"(\.\w+)+", json_path), f"no expectation for printer column path {json_path}"
    value: Any = obj
    for key in json_path.split(".")[1:]:
        value = value.get(key) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _table(output: str, headers: list[str]) -> list[list[str]]:
    """Cells of ``kubectl get``'s table, cut at the header's column starts (header names may contain spaces)."""
    header, *rows = output.splitlines()
    starts, position = [], 0
    for name in headers:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    assert header.split() == " ".join(headers).split(), header
    ends = [*starts[1:], None]
    return [[row[start:end].strip() for start, end in zip(starts, ends, strict=True)] for row in rows]


def test_printer_columns_of_every_kind_on_ready_objects(
        kube: KubeTarget, admin_client: ApiClient, namespace: str, every_kind_ready: list[dict[str, Any]]) -> None:
    """``kubectl get <kind>`` shows NAME, the kind's columns and AGE, with the values of the object's status."""
    objects = Objects(admin_client, namespace)
    for kind in KINDS:
        headers = ["NAME", *(column.name.upper() for column in kind.columns), "AGE"]
        rows = _table(_kubectl(kube, "get", kind.plural, "-n", namespace).stdout, headers)
        names = sorted(doc["metadata"]["name"] for doc in every_kind_ready if doc["kind"] == kind.kind)
        assert sorted(row[0] for row in rows) == names, kind.kind
        for row in rows:
            obj = objects.get(kind.kind, row[0]) or {}
            expected = [_column_value(obj, column.json_path) for column in kind.columns]
            shown = dict(zip(headers[1:-1], row[1:-1], strict=True))
            assert row[1:-1] == expected, f"{kind.kind} {row[0]}: columns {shown}, expected {expected}"
            assert all(row[1:-1]), f"{kind.kind} {row[0]}: an empty column on a Ready object: {row}"
            assert "True" in row, f"{kind.kind} {row[0]}: no READY column saying True: {row}"
            assert re.fullmatch(r"\d+[smhd].*", row[-1]), row[-1]


def test_short_names_and_category_list_every_kind(
        kube: KubeTarget, namespace: str, every_kind_ready: list[dict[str, Any]]) -> None:
    """Every kind answers to its plural, singular and short name; ``kubectl get sagemaker`` lists every kind."""
    assert sorted(name for kind in KINDS for name in kind.short_names) == ["smconfig", "smendpoint", "smic",
                                                                          "smmodel", "smtransform"]
    everything = {_object_name(doc["kind"], doc["metadata"]["name"]) for doc in every_kind_ready}
    for kind in KINDS:
        of_kind = {_object_name(kind.kind, doc["metadata"]["name"]) for doc in every_kind_ready
                   if doc["kind"] == kind.kind}
        for alias in (kind.plural, kind.singular, *kind.short_names):
            listed = _names(_kubectl(kube, "get", alias, "-n", namespace, "-o", "name").stdout)
            assert listed == of_kind, f"kubectl get {alias}"
    assert _names(_kubectl(kube, "get", "sagemaker", "-n", namespace, "-o", "name").stdout) == everything


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every field path of a structural schema (list items are looked through, as kubectl explain does)."""
    paths: dict[str, dict[str, Any]] = {}
    for name, child in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        paths[path] = child
        node = child
        while node.get("type") == "array":
            node = node.get("items") or {}
        paths.update(_schema_paths(node, path))
    return paths


def _explained_paths(output: str) -> set[str]:
    """Field paths of ``kubectl explain --recursive``: one ``name<TAB><type>`` line per field, nested by indentation
    (two spaces a level on new kubectl, three on old; other lines, such as ``enum:``, are skipped)."""
    paths: set[str] = set()
    stack: list[tuple[int, str]] = []
    fields = False
    for line in output.splitlines():
        fields = fields or line.startswith("FIELDS:")
        match = re.fullmatch(r"( +)([\w$-]+)\t<[^>]*>.*", line) if fields else None
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        paths.add(".".join(name for _, name in stack))
    return paths


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_kubectl_explain_reaches_every_spec_field(kube: KubeTarget, crds: list[str], kind: Kind) -> None:
    """``kubectl explain --recursive`` lists exactly the field paths of the generated spec schema."""
    expected = {f"spec.{path}" for path in _schema_paths(kind.spec_schema())}
    explained = {path for path in _explained_paths(_kubectl(kube, "explain", kind.plural, "--recursive").stdout)
                 if path.startswith("spec.")}
    assert len(expected) > 40  # the whole generated schema, not a stub (the smallest kind, a transform job: 47)
    assert sorted(expected - explained) == [], "fields kubectl explain does not show"
    assert sorted(explained - expected) == [], "fields kubectl explain shows that the schema does not have"


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_kubectl_explain_shows_field_descriptions(kube: KubeTarget, crds: list[str], kind: Kind) -> None:
    """``kubectl explain <plural>.spec`` shows the description of every top-level field; a nested field of the
    operator's own (a reference to another object) and the most deeply nested field show theirs."""
    schema = kind.spec_schema()
    top = _words(_kubectl(kube, "explain", f"{kind.plural}.spec").stdout)
    for name, child in schema["properties"].items():
        assert _words(child["description"]) in top, f"{kind.kind} spec.{name}: description not shown"
    paths = _schema_paths(schema)
    nested = [path.replace("[]", "") for path in kind.operator_only_paths if "." in path]
    deepest = max(paths, key=lambda path: path.count("."))
    for path in [*nested, deepest]:
        shown = _words(_kubectl(kube, "explain", f"{kind.plural}.spec.{path}").stdout)
        assert _words(paths[path]["description"]) in shown, f"{kind.kind} spec.{path}: description not shown"
