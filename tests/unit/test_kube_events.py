"""The Kubernetes writer's events: held back while the controller has work queued (each at most EVENT_DELAY_MAX),
posted at once when it has none, all posted at shutdown, dropped when the lease is lost, and bounded in number."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable

import kubernetes
import pytest

from sagemaker_operator import kube
from sagemaker_operator.kube import KubeWriter
from sagemaker_operator.reconcile.objects import MODEL, KubeObject
from sagemaker_operator.status import EventRecord
from tests.unit.test_controller_queue import body

DEADLINE = 2.0


class Posted:
    """Stands in for the writer's post_event: records what is posted, and wakes whoever waits for it."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.stamps: list[datetime.datetime | None] = []
        self._posted = asyncio.Event()

    async def __call__(self, obj: KubeObject, record: EventRecord, at: datetime.datetime | None = None) -> None:
        self.reasons.append(record.reason)
        self.stamps.append(at)
        self._posted.set()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE):
            while not condition():
                self._posted.clear()
                await self._posted.wait()


def _writer(monkeypatch: pytest.MonkeyPatch, delay: float) -> tuple[KubeWriter, Posted]:
    monkeypatch.setattr(kube, "EVENT_DELAY_MAX", delay)
    monkeypatch.setattr(kube, "EVENT_RECHECK_SECONDS", 0.01)
    writer = KubeWriter(kubernetes.client.ApiClient())
    posted = Posted()
    monkeypatch.setattr(writer, "post_event", posted)
    return writer, posted


MODEL_OBJ = KubeObject.from_body(body(MODEL, "m"))


async def test_events_wait_while_work_is_queued_and_go_when_it_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, posted = _writer(monkeypatch, delay=60.0)
    busy = True
    writer.defer_events_while(lambda: busy)
    writer.post_event_soon(MODEL_OBJ, EventRecord("Created", "created"))
    writer.post_event_soon(MODEL_OBJ, EventRecord("UpdateStarted", "updating"))
    await asyncio.sleep(0.1)  # several re-checks: still busy, nothing posted
    assert posted.reasons == []
    released = datetime.datetime.now(datetime.UTC)
    busy = False
    await posted.wait_for(lambda: len(posted.reasons) == 2)
    assert sorted(posted.reasons) == ["Created", "UpdateStarted"]
    # Stamped when they happened, not when they were posted.
    assert all(stamp is not None and stamp < released for stamp in posted.stamps), (posted.stamps, released)
    writer.close()


async def test_an_event_waits_at_most_its_delay_however_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, posted = _writer(monkeypatch, delay=0.2)
    writer.defer_events_while(lambda: True)
    writer.post_event_soon(MODEL_OBJ, EventRecord("Created", "created"))
    await posted.wait_for(lambda: posted.reasons == ["Created"])
    writer.close()


async def test_shutdown_posts_every_event_held_back_and_a_lost_lease_drops_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    writer, posted = _writer(monkeypatch, delay=60.0)
    writer.defer_events_while(lambda: True)
    writer.post_event_soon(MODEL_OBJ, EventRecord("Created", "created"))
    writer.discard_events()
    writer.post_event_soon(MODEL_OBJ, EventRecord("UpdateStarted", "updating"))
    async with asyncio.timeout(DEADLINE):
        await writer.flush_events()
    assert posted.reasons == ["UpdateStarted"]
    writer.close()


async def test_beyond_the_backlog_the_oldest_event_is_dropped_with_a_warning_naming_its_object(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(kube, "EVENT_BACKLOG", 2)
    writer, posted = _writer(monkeypatch, delay=60.0)
    writer.defer_events_while(lambda: True)
    with caplog.at_level(logging.WARNING, logger="sagemaker_operator.kube"):
        for reason in ("First", "Second", "Third"):
            writer.post_event_soon(MODEL_OBJ, EventRecord(reason, reason.lower()))
    assert [r.getMessage() for r in caplog.records] == [
        f"event First for {MODEL_OBJ.ref} dropped: 1 events wait to be posted"]
    async with asyncio.timeout(DEADLINE):
        await writer.flush_events()
    assert posted.reasons == ["Second", "Third"]
    writer.close()
