"""Soak: churn for a set time and report the operator's RSS over time.

As a script it starts its own API server (LocalCluster), emulator and operator::

    python -m tests.reliability.soak --minutes 120          # hours by flag; asserts RSS growth < 5% after warm-up

The CI test (test_soak.py) runs :func:`soak` for about a minute and a half and only prints the figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import kubernetes
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.reliability.harness import Churn, OperatorProcess


@dataclass
class SoakResult:
    """RSS samples (seconds since start, bytes) and churn rounds completed."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    rounds: int = 0
    warmup_seconds: float = 0.0

    def after_warmup(self) -> list[tuple[float, int]]:
        return [s for s in self.samples if s[0] >= self.warmup_seconds]

    def growth(self) -> float:
        """Relative RSS growth from the first sample after warm-up to the mean of the last fifth of them."""
        steady = self.after_warmup()
        if len(steady) < 5:
            return 0.0
        tail = steady[-max(1, len(steady) // 5):]
        base = steady[0][1]
        return (sum(s[1] for s in tail) / len(tail) - base) / base

    def report(self) -> str:
        lines = [f"{'t (s)':>8} {'RSS (MiB)':>10}"]
        step = max(1, len(self.samples) // 20)
        lines += [f"{t:8.0f} {rss / 2**20:10.1f}" for t, rss in self.samples[::step]]
        lines.append(f"rounds of churn: {self.rounds}; warm-up {self.warmup_seconds:.0f} s; RSS growth after "
                     f"warm-up: {self.growth() * 100:+.1f}%")
        return "\n".join(lines)


def soak(admin: ApiClient, namespace: str, operator: OperatorProcess, seconds: float, *, endpoints: int = 8,
         warmup_fraction: float = 0.25, sample_every: float = 5.0,
         progress: Callable[[float, int, int], None] | None = None) -> SoakResult:
    """Churn ``endpoints`` endpoints again and again for ``seconds``, sampling the operator's RSS.

    ``progress(seconds, rss_bytes, rounds)`` is called with every sample (the script prints them, so a run of
    hours shows how it goes)."""
    result = SoakResult(warmup_seconds=seconds * warmup_fraction)
    started = time.monotonic()
    last_sample = -sample_every

    def sample() -> None:
        nonlocal last_sample
        now = time.monotonic() - started
        if now - last_sample >= sample_every:
            result.samples.append((now, operator.rss_bytes()))
            last_sample = now
            if progress is not None:
                progress(now, result.samples[-1][1], result.rounds)

    while time.monotonic() - started < seconds:
        churn = Churn(admin, namespace, endpoints, prefix=f"s{result.rounds % 2}-", seed=result.rounds)
        churn.run(timeout=300, on_round=sample)
        # Finish the round: delete what it left, so every round starts from nothing.
        for ep in churn.endpoints:
            for kind in ("SageMakerEndpoint", "SageMakerEndpointConfig", "SageMakerModel"):
                churn._delete(kind, ep.name)
        result.rounds += 1
        sample()
    sample()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--max-growth", type=float, default=0.05)
    args = parser.parse_args()

    from sagemaker_operator.dev.cluster import LocalCluster
    from tests.crd_helpers import apply_crds
    from tests.helpers import client_from_kubeconfig

    with LocalCluster() as cluster, EmulatorThread(create_seconds=0.3, update_seconds=0.3,
                                                   delete_seconds=0.2) as emulator, \
            tempfile.TemporaryDirectory() as workdir:
        admin = client_from_kubeconfig(cluster.kubeconfig_path)
        apply_crds(admin)
        namespace = f"soak-{uuid.uuid4().hex[:8]}"
        kubernetes.client.CoreV1Api(admin).create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace)))
        with OperatorProcess(cluster.kubeconfig_path, emulator.url, [namespace], Path(workdir),
                             verbose=False) as operator:
            def show(seconds: float, rss: int, rounds: int) -> None:
                print(f"{seconds:8.0f} s  RSS {rss / 2**20:7.1f} MiB  rounds {rounds}", flush=True)

            result = soak(admin, namespace, operator, args.minutes * 60, endpoints=args.endpoints,
                          sample_every=max(5.0, args.minutes * 60 / 200), progress=show)
        print(result.report())
        assert result.growth() < args.max_growth, f"RSS grew {result.growth() * 100:.1f}% after warm-up"


if __name__ == "__main__":
    main()
