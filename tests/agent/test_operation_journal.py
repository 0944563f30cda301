"""The agent's operation journal: what it started survives a restart, outcomes are kept to answer
a re-claim, old reported entries are dropped, and an unreadable journal never stops the agent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from accord.agent.executor import Outcome
from accord.agent.journal import OperationJournal


def test_started_and_finished_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "operations-h.json"
    journal = OperationJournal(path)
    journal.started("a", "firmware", 1)
    journal.started("b", "program", 1)
    journal.finished("b", Outcome(True, {"function_id": "f"}), 2)

    again = OperationJournal(path)  # the agent restarted
    a, b = again.get("a"), again.get("b")
    assert a is not None and (a.kind, a.attempt, a.result()) == ("firmware", 1, None)
    assert b is not None and b.result() == Outcome(True, {"function_id": "f"}) and b.attempt == 2
    assert [e.uuid for e in again.unreported()] == ["a", "b"]
    again.reported("b")
    assert [e.uuid for e in OperationJournal(path).unreported()] == ["a"]


def test_only_the_newest_reported_entries_are_kept(tmp_path: Path) -> None:
    journal = OperationJournal(tmp_path / "j.json", keep_finished=5)
    for i in range(8):
        journal.started(f"op-{i}", "program", 1)
        journal.finished(f"op-{i}", Outcome(True), 1)
        journal.reported(f"op-{i}")
    journal.started("still-running", "firmware", 1)
    kept = OperationJournal(tmp_path / "j.json")
    assert [i for i in range(8) if kept.get(f"op-{i}") is not None] == [3, 4, 5, 6, 7]
    assert kept.get("still-running") is not None  # never dropped while unreported


def test_unreadable_journal_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text("{not json")
    journal = OperationJournal(path)
    assert journal.unreported() == []
    journal.started("a", "program", 1)
    assert OperationJournal(path).get("a") is not None


def test_without_a_file_it_remembers_in_memory(tmp_path: Path) -> None:
    journal = OperationJournal()
    journal.started("a", "program", 1)
    assert journal.get("a") is not None
    assert list(tmp_path.iterdir()) == []


def test_unwritable_journal_keeps_the_memory_of_this_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    journal = OperationJournal(tmp_path / "not-a-dir" / "j.json")
    with caplog.at_level(logging.ERROR, logger="accord.agent.journal"):
        journal.started("a", "firmware", 1)
    assert journal.get("a") is not None
    assert any("cannot write operation journal" in r.getMessage() for r in caplog.records)
