"""The local API server starts, restarts without losing data, and leaves no process behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import kubernetes
import pytest
from kubernetes.client import ApiClient

from sagemaker_operator.dev.cluster import LocalCluster
from tests.helpers import client_from_kubeconfig, pid_alive, wait_for

pytestmark = pytest.mark.cluster


def test_stop_leaves_no_process_and_no_files() -> None:
    cluster = LocalCluster()
    cluster.start()
    pids, workdir = cluster.pids, cluster.workdir
    assert len(pids) == 2
    assert workdir is not None
    assert all(pid_alive(pid) for pid in pids)
    cluster.stop()
    assert not any(pid_alive(pid) for pid in pids)
    assert not workdir.exists()


def test_children_die_when_the_parent_is_killed() -> None:
    script = textwrap.dedent("""
        import signal
        from sagemaker_operator.dev.cluster import LocalCluster
        cluster = LocalCluster()
        cluster.start()
        print(*cluster.pids, flush=True)
        signal.pause()
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        wait_for(lambda: not any(pid_alive(pid) for pid in pids), timeout=20,
                 what="etcd and kube-apiserver to exit after their parent was killed")
    finally:
        parent.kill()
        parent.wait()


def test_api_server_restart_keeps_data() -> None:
    with LocalCluster() as cluster:
        client: ApiClient = client_from_kubeconfig(cluster.kubeconfig_path)
        core = kubernetes.client.CoreV1Api(client)
        core.create_namespaced_config_map("default", {"metadata": {"name": "kept"}, "data": {"k": "v"}})
        cluster.stop_apiserver()
        cluster.start_apiserver()
        assert core.read_namespaced_config_map("kept", "default").data == {"k": "v"}
        client.close()
