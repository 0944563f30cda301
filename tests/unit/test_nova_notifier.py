"""Bind events for Nova go through one sender thread and a bounded queue: many batches never make
many threads, a full queue drops with an error log (Nova also polls), and stop() ends the sender
after what was queued."""

from __future__ import annotations

import logging
import threading

import pytest

from accord.nova import BindEvent, NovaNotifier
from tests.live_server import free_port
from tests.stubs.nova import nova_stub


def _senders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "accord-nova-events"]


def _batch(i: int) -> list[BindEvent]:
    return [BindEvent(f"00000000-0000-4000-8000-{i:012d}", f"arq-{i}", "completed")]


def test_many_batches_one_sender_every_event_delivered() -> None:
    with nova_stub() as stub:
        notifier = NovaNotifier(stub.url + "/v2.1")
        before = len(_senders())
        for i in range(50):
            notifier.send_in_background(_batch(i))
        assert len(_senders()) == before + 1
        assert notifier.wait(timeout=30)
        assert sorted(e["tag"] for e in stub.events()) == sorted(f"arq-{i}" for i in range(50))
        notifier.stop()
        assert len(_senders()) == before


def test_full_queue_drops_with_an_error_log(caplog: pytest.LogCaptureFixture) -> None:
    # Nowhere to send to: the sender is busy retrying its first batch while more arrive.
    notifier = NovaNotifier(f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.2, queue_batches=1)
    before = len(_senders())
    with caplog.at_level(logging.ERROR, logger="accord.nova"):
        for i in range(5):
            notifier.send_in_background(_batch(i))
    assert notifier.dropped >= 3
    assert any("queue full" in r.getMessage() for r in caplog.records)
    notifier.stop(timeout=10)
    assert len(_senders()) == before
