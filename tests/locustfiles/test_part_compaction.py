"""A recorder's parts compacted (issue 17, no processes): during the run as soon as the
small parts reach the target (rolling), and the tail at the final flush; the ledger, the
account and the master's next report name the compacted files (with the rows of the
parts they replaced), the small parts are gone, and every row is counted once."""

from __future__ import annotations

import itertools
import json
import time

import pyarrow.parquet as pq

from surge.accounts import account_path
from surge.locustfiles import compaction
from surge.locustfiles.fleet_endings import EndingBook
from surge.locustfiles.recorder import Recorder
from surge.results import is_compacted, list_parts, part_span, worker_dir


def _record(recorder: Recorder, n: int) -> None:
    for _ in range(n):
        recorder.record_dropped("browse", time.time(), 0, time.time())


def test_the_last_flush_compacts_and_every_list_names_the_compacted_file(tmp_path) -> None:
    recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    book = EndingBook()  # the master's side: what the health reports told it
    for rows in (30, 20, 10):  # three parts during the run, each reported to the master
        _record(recorder, rows)
        recorder.flush()
        recorder.ledger.collect(wait=True)
        book.on_health("w1", {"parts": recorder.ledger.take_new()})
    assert sorted(book.parts) == [f"w1/part-0000{i}.parquet" for i in range(3)]
    _record(recorder, 5)

    recorder.flush(wait=True)  # the worker's stop: last part, then compaction

    assert sorted(p.name for p in worker_dir(tmp_path, "w1").iterdir()) == [
        "_account.json",
        "part-00000-00003.parquet",
    ]
    (part,) = list_parts(tmp_path)
    assert pq.read_metadata(part).num_rows == 65
    assert recorder.ledger.parts == {"part-00000-00003.parquet": 65}
    account = json.loads(account_path(tmp_path, "w1").read_text())
    assert account["parts"] == {"part-00000-00003.parquet": 65}
    assert account["rows_on_disk"] == 65
    book.on_health("w1", {"parts": recorder.ledger.take_new()})  # the final report
    assert book.manifest_fields([])["parts"] == {"w1/part-00000-00003.parquet": 65}
    assert book.lost_detail({"id": "w1"})["records_in_parts"] == 65


def test_a_single_part_is_left_as_it_is(tmp_path) -> None:
    recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    _record(recorder, 7)
    recorder.flush(wait=True)
    assert [p.name for p in list_parts(tmp_path)] == ["part-00000.parquet"]
    assert recorder.ledger.parts == {"part-00000.parquet": 7}


def test_no_compaction_after_a_write_failure(tmp_path) -> None:
    """A full disk has no room for the copy: the parts that are on disk stay as they are."""
    recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    for _ in range(2):
        _record(recorder, 3)
        recorder.flush()
    recorder.ledger.collect(wait=True)
    recorder.ledger.failure = "disk full: cannot write request parts (test)"
    recorder.flush(wait=True)
    assert [p.name for p in list_parts(tmp_path)] == ["part-00000.parquet", "part-00001.parquet"]


# ---------------------------------------------------------------- rolling compaction


def _flush_and_settle(recorder: Recorder, book: EndingBook) -> None:
    """One flush of the run, its write landed and the compaction step it started done
    (the next flush moves on from there), then the worker's health report."""
    recorder.flush()
    recorder.ledger.collect(wait=True)
    recorder.ledger.wait_compaction_thread()
    book.on_health("w1", {"parts": recorder.ledger.take_new()})


def _rows_on_disk(run_dir) -> dict[str, int]:
    return {p.name: pq.read_metadata(p).num_rows for p in list_parts(run_dir)}


def test_parts_are_compacted_while_the_run_goes_on_and_only_the_tail_at_the_end(
    tmp_path, monkeypatch
) -> None:
    recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    book = EndingBook()
    _record(recorder, 200)
    _flush_and_settle(recorder, book)
    one_part = (worker_dir(tmp_path, "w1") / "part-00000.parquet").stat().st_size
    # about three parts per compacted file
    monkeypatch.setattr(compaction, "COMPACT_TARGET_BYTES", 3 * one_part + one_part // 2)
    recorded = 200
    for _ in range(16):  # the run: a part per flush
        _record(recorder, 200)
        recorded += 200
        _flush_and_settle(recorder, book)
        on_disk = _rows_on_disk(tmp_path)  # at every moment: each row once, none lost
        assert sum(on_disk.values()) == recorded == recorder.ledger.rows_on_disk
    mid_run = sorted(worker_dir(tmp_path, "w1").iterdir())
    compacted = [p.name for p in mid_run if is_compacted(p.name)]
    assert len(compacted) >= 3, compacted  # before the final flush
    small = [p.name for p in mid_run if p.name.startswith("part-") and not is_compacted(p.name)]
    assert 0 < len(small) <= 5, small  # the deleted small parts are gone, only a tail is left
    # the ledger names a compacted file once it is on disk (one just written may wait
    # for the next flush: the crash window, where readers skip its small parts)
    assert {n for n in recorder.ledger.parts if is_compacted(n)} <= set(compacted)
    assert {k.split("/")[1] for k in book.final_parts()} == set(recorder.ledger.parts)
    assert book.parts == book.final_parts()  # the master forgot the covered small parts

    _record(recorder, 50)
    recorded += 50
    recorder.flush(wait=True)  # the worker's stop: the last part, then only the tail

    names = sorted(p.name for p in worker_dir(tmp_path, "w1").iterdir())
    parts = [n for n in names if n != "_account.json"]
    assert all(is_compacted(n) for n in parts), names  # no small part left
    assert set(compacted) < set(parts)  # the mid-run files stay; the tail is one more
    spans = sorted(part_span(n) for n in parts)
    assert spans[0][0] == 0 and spans[-1][1] == 17  # parts 0..17, each in one file
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
    on_disk = _rows_on_disk(tmp_path)
    assert sum(on_disk.values()) == recorded
    assert recorder.ledger.parts == on_disk
    assert json.loads(account_path(tmp_path, "w1").read_text())["parts"] == on_disk
    book.on_health("w1", {"parts": recorder.ledger.take_new()})  # the final report
    assert book.manifest_fields([])["parts"] == {f"w1/{n}": r for n, r in on_disk.items()}
    assert book.lost_detail({"id": "w1"})["records_in_parts"] == recorded


def test_a_failed_compaction_keeps_the_small_parts_is_logged_once_and_the_run_goes_on(
    tmp_path, monkeypatch, caplog
) -> None:
    def broken(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compaction, "COMPACT_TARGET_BYTES", 1)  # every flush would compact
    monkeypatch.setattr(compaction, "compact_group", broken)
    recorder = Recorder(run_dir=tmp_path, worker_id="w1")
    book = EndingBook()
    for _ in range(6):
        _record(recorder, 10)
        _flush_and_settle(recorder, book)
    _record(recorder, 10)
    recorder.flush(wait=True)
    failures = [r for r in caplog.records if "compacting request parts failed" in r.message]
    assert len(failures) == 1
    assert recorder.ledger.failure is None  # the run's own outcome is untouched
    assert sorted(_rows_on_disk(tmp_path)) == [f"part-{i:05d}.parquet" for i in range(7)]
    assert sum(_rows_on_disk(tmp_path).values()) == 70


def test_a_compaction_never_spans_a_part_still_being_written(tmp_path) -> None:
    """Part 2's write has not landed (or failed and is retried at the end): a compacted
    file named part-00000-00003 would hide it, so the runs stop at the gap."""
    folder = worker_dir(tmp_path, "w1")
    folder.mkdir(parents=True)
    for i in (0, 1, 3, 4, 5):
        (folder / f"part-{i:05d}.parquet").write_bytes(b"x" * 100)
    ledger = {f"part-{i:05d}.parquet": 1 for i in (0, 1, 3, 4, 5)}
    assert compaction.plan(folder, ledger, 250, tail=False) == [
        ["part-00000.parquet", "part-00001.parquet"],
        ["part-00003.parquet", "part-00004.parquet"],
    ]  # part 5 waits for more parts; at the end it is the tail
    assert compaction.plan(folder, ledger, 250)[-1] == ["part-00005.parquet"]


def test_the_target_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(compaction.COMPACT_TARGET_ENV, "4096")
    assert compaction.target_from_env() == 4096
    monkeypatch.setenv(compaction.COMPACT_TARGET_ENV, "lots")  # ignored, with a warning
    assert compaction.target_from_env() == compaction.DEFAULT_TARGET_BYTES
