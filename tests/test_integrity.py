"""Never lose or corrupt a user's data (issue 14): locking, own files, resume checks, orphaned workers, memory."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import postlens
from postlens import batch
from postlens.archive import ArchiveError, open_archive
from postlens.cli import main

POSTS = [
    "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
    "@jamie Sorry about the delay — please DM us your order number and we'll sort it out. ^KL",
    "春节期间营业时间调整通知：除夕至初三闭店，初四起恢复正常营业",
    "Our CEO joined the World Economic Forum panel on AI today",
]


def _rows(n: int, tag: str = "") -> list[dict]:
    return [{"id": f"{tag}{i}", "text": POSTS[i % len(POSTS)] + f" #{tag}{i}"} for i in range(n)]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


# ---- 1: two runs writing the same output ------------------------------------------------------------
def test_a_second_run_on_the_same_output_is_refused_and_the_first_completes(tmp_path, capsys):
    a = _write_jsonl(tmp_path / "a.jsonl", _rows(800, "a"))
    b = _write_jsonl(tmp_path / "b.jsonl", _rows(900, "b"))
    out = tmp_path / "same.csv"
    slow = ("import time; from postlens import batch; batch.CHUNK_ROWS = 20\n"
            "real = batch._advance\n"
            "def advance(*a):\n    time.sleep(0.05)\n    return real(*a)\n"
            "batch._advance = advance\n"
            f"batch.label_file({str(a)!r}, {str(out)!r}, jobs=1)\n")
    first = _python(slow)
    try:
        _wait_for(lambda: (tmp_path / "same.csv.parts" / "manifest.json").exists() or first.poll() is not None)
        assert first.poll() is None, first.communicate()
        assert main(["label", str(b), "-o", str(out), "--jobs", "1", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert f"pid {first.pid}" in err and str(out) in err
        assert first.wait(120) == 0, first.communicate()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    postlens.label_file(a, tmp_path / "clean.csv", jobs=1)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()  # the first run's rows, untouched
    assert not (tmp_path / "same.csv.lock").exists() and not (tmp_path / "same.csv.parts").exists()


def test_a_stale_lock_file_blocks_nothing(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(5))
    (tmp_path / "out.csv.lock").write_text("999999999\n", encoding="utf-8")  # left by a run that died
    assert postlens.label_file(src, tmp_path / "out.csv", jobs=1).labelled == 5


# ---- 3: labelling postlens output again ------------------------------------------------------------
def test_added_names_never_collide():
    labels = ["a", "b"]
    assert batch._added_names(["id", "text"], labels)[0] == "label"
    assert batch._added_names(["text", "label"], labels)[:2] == ["postlens_label", "postlens_p_a"]
    assert batch._added_names(["text", "label", "postlens_language"], labels)[0] == "postlens2_label"
    twice = ["text", "label", *batch._added_names(["text", "label"], labels)]
    assert batch._added_names(twice, labels)[-1] == "postlens2_language"


def test_labelling_postlens_csv_output_again_keeps_every_column(tmp_path):
    gold = _write_csv(tmp_path / "gold.csv", [{**r, "label": "service"} for r in _rows(12)])
    once, twice = tmp_path / "once.csv", tmp_path / "twice.csv"
    postlens.label_file(gold, once, jobs=1)
    postlens.label_file(once, twice, jobs=1)
    header1, rows1 = _read_csv(once)
    header2, rows2 = _read_csv(twice)
    assert len(set(header2)) == len(header2)  # no duplicate header
    assert header2[: len(header1)] == header1 and header2[len(header1)] == "postlens2_label"
    assert [r[: len(header1)] for r in rows2] == rows1  # the input's columns pass through unchanged


def test_labelling_postlens_jsonl_output_again_overwrites_nothing(tmp_path):
    src = _write_jsonl(tmp_path / "gold.jsonl", [{**r, "label": "service"} for r in _rows(12)])
    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    postlens.label_file(src, once, jobs=1)
    first = [json.loads(line) for line in once.read_text(encoding="utf-8").splitlines()]
    for row in first:
        row["postlens_label"] = "marked"  # the values the second run must keep
    _write_jsonl(once, first)
    postlens.label_file(once, twice, jobs=1)
    second = [json.loads(line) for line in twice.read_text(encoding="utf-8").splitlines()]
    assert [{k: r[k] for k in first[0]} for r in second] == first
    assert all(r["postlens2_label"] != "marked" for r in second)


def test_label_frame_twice_keeps_the_first_labels():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": POSTS, "label": ["x"] * len(POSTS)})
    once = postlens.label_frame(frame)
    once["postlens_label"] = "marked"
    once["postlens_error"] = "kept"
    twice = postlens.label_frame(once)
    for column in once.columns:
        assert twice[column].tolist() == once[column].tolist(), column
    assert twice["postlens2_label"].tolist()[0] == "hard_ad" and "postlens2_error" in twice.columns


# ---- 6: resume checks the input's content ----------------------------------------------------------
def _interrupted_run(src: Path, out: Path, monkeypatch) -> None:
    monkeypatch.setattr(batch, "CHUNK_ROWS", 5)
    monkeypatch.setattr(batch, "PART_ROWS", 10)
    real, calls = batch._advance, {"n": 0}

    def advance(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(batch, "_advance", advance)
    with pytest.raises(KeyboardInterrupt):
        postlens.label_file(src, out, jobs=1)
    monkeypatch.setattr(batch, "_advance", real)


def test_resume_refuses_a_same_size_edit_with_the_mtime_restored(tmp_path, monkeypatch):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(30))
    out = tmp_path / "out.csv"
    _interrupted_run(src, out, monkeypatch)
    st = src.stat()
    src.write_bytes(src.read_bytes().replace("限时5折".encode(), "限时6折".encode(), 1))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size and src.stat().st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ArchiveError, match="changed since the interrupted run"):
        postlens.label_file(src, out, jobs=1, resume=True)


def test_resume_refuses_another_guideline_profile(tmp_path, monkeypatch):
    """The user values of the parts already written follow the profile of the interrupted run."""
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(30))
    out = tmp_path / "out.csv"
    _interrupted_run(src, out, monkeypatch)
    with pytest.raises(ArchiveError, match="the guideline profile changed since the interrupted run"):
        postlens.label_file(src, out, jobs=1, resume=True, profile="ecommerce")
    summary = postlens.label_file(src, out, jobs=1, resume=True)  # the same run: continued
    assert summary.rows_read == 30 and summary.labelled == 30


def test_archive_fingerprint_lives_in_archive():
    import importlib

    from postlens.archive import archive_fingerprint

    assert importlib.import_module("postlens.adapt").archive_fingerprint is archive_fingerprint


# ---- 7: only postlens's own files are overwritten or deleted ------------------------------------------
def test_an_input_named_like_the_error_file_is_refused(tmp_path):
    src = _write_jsonl(tmp_path / "out.csv.errors.jsonl", _rows(3))
    before = src.read_bytes()
    with pytest.raises(ArchiveError, match="errors"):
        postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    assert src.read_bytes() == before and not (tmp_path / "out.csv").exists()


def test_an_input_inside_the_parts_directory_is_refused(tmp_path):
    (tmp_path / "out.csv.parts").mkdir()
    src = _write_jsonl(tmp_path / "out.csv.parts" / "in.jsonl", _rows(3))
    before = src.read_bytes()
    with pytest.raises(ArchiveError, match="parts"):
        postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    assert src.read_bytes() == before


def test_a_parts_directory_postlens_did_not_make_is_not_deleted(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(3))
    (tmp_path / "out.csv.parts").mkdir()
    (tmp_path / "out.csv.parts" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ArchiveError, match="not made by postlens"):
        postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    assert (tmp_path / "out.csv.parts" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_only_postlens_files_are_deleted_from_its_parts_directory(tmp_path, monkeypatch):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(30))
    out = tmp_path / "out.csv"
    _interrupted_run(src, out, monkeypatch)
    (tmp_path / "out.csv.parts" / "notes.txt").write_text("mine", encoding="utf-8")
    assert postlens.label_file(src, out, jobs=1).labelled == 30  # starts over
    assert [p.name for p in (tmp_path / "out.csv.parts").iterdir()] == ["notes.txt"]


# ---- 8: kill -9 during the final cleanup ------------------------------------------------------------
def test_resume_after_a_kill_during_the_final_cleanup(tmp_path):
    rows = _rows(1000)
    rows[7]["text"] = ""  # a rejected row: its error file must survive too
    src = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.csv"
    code = ("import os, signal; from postlens import batch; batch.CHUNK_ROWS = 50; batch.PART_ROWS = 200\n"
            "real = os.replace\n"
            "def replace(a, b):\n    real(a, b)\n"
            f"    if str(b) == {str(out)!r}:  # the output is in place: delete a part, as a cleanup would, and die\n"
            f"        os.unlink({str(tmp_path / 'out.csv.parts' / 'part-00001.csv')!r})\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "os.replace = replace\n"
            f"batch.label_file({str(src)!r}, {str(out)!r}, jobs=1)\n")
    proc = _python(code)
    assert proc.wait(120) == -9, proc.communicate()
    assert out.exists() and (tmp_path / "out.csv.parts").exists()
    summary = postlens.label_file(src, out, jobs=1, resume=True)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (1000, 999, 1)
    postlens.label_file(src, tmp_path / "clean.csv", jobs=1)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()
    assert (tmp_path / "out.csv.errors.jsonl").read_bytes() == (tmp_path / "clean.csv.errors.jsonl").read_bytes()
    assert not (tmp_path / "out.csv.parts").exists()


# ---- 11: workers die with the main process -----------------------------------------------------------
def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def _kill_and_expect_no_orphans(proc: subprocess.Popen, settle: float = 0.0) -> None:
    """Once ``proc`` has 2 worker processes, kill -9 it and check that its workers are gone within 10 s."""
    workers: set[int] = set()
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= 2 or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        workers = _children(proc.pid)
        time.sleep(settle)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        end = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < end:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/task").is_dir(), reason="needs /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--jobs 2 needs 2 cores")
def test_workers_exit_when_the_main_process_is_killed(tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(4000))
    code = ("import sys, time; from postlens import batch; from postlens.cli import main; batch.CHUNK_ROWS = 50\n"
            "real = batch._advance\n"
            "def advance(*a):\n    time.sleep(0.2)\n    return real(*a)\n"
            "batch._advance = advance\n"
            f"sys.exit(main(['label', {str(src)!r}, '-o', {str(tmp_path / 'out.csv')!r}, '--jobs', '2', '--quiet']))\n")
    proc = _python(code)
    _kill_and_expect_no_orphans(proc, settle=0.5)  # the workers are idle, waiting for chunks


@pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/task").is_dir(), reason="needs /proc")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="forked fits need 2 cores")
def test_training_workers_exit_when_the_main_process_is_killed():
    """The fold fits of `postlens train` run in forked workers: after a kill -9 of train they finished
    their fit, then waited for more work forever, holding their memory (GBs on a big training set)."""
    proc = _python("import time; from postlens import model; model._map_forked(lambda a: time.sleep(60), [1, 2])")
    _kill_and_expect_no_orphans(proc)


# ---- 12: memory bounded by bytes, --jobs capped ----------------------------------------------------------
class _Pool(ProcessPoolExecutor):
    """Records what the workers are asked to do (at most 2 real processes)."""

    workers: list[int] = []
    sent: list[list[str]] = []

    def __init__(self, max_workers=None, **kwargs):
        _Pool.workers.append(max_workers)
        super().__init__(min(max_workers, 2), **kwargs)

    def submit(self, fn, *args, **kwargs):
        _Pool.sent.append(list(args[0]))
        return super().submit(fn, *args, **kwargs)


def test_chunks_are_bounded_by_bytes(tmp_path):
    src = _write_jsonl(tmp_path / "big.jsonl", [{"id": i, "text": "限时5折 " * 20_000} for i in range(40)])
    sizes = [c.n_rows for c in open_archive(src).chunks(2048, max_bytes=1 << 20)]
    assert sum(sizes) == 40 and max(sizes) <= 10  # each row is about 220 KB


def test_workers_get_byte_bounded_chunks_of_truncated_texts(tmp_path, monkeypatch):
    from postlens.text import MAX_CHARS

    long = "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购 " * 4000  # 108,000 characters
    src = _write_jsonl(tmp_path / "big.jsonl", [{"id": i, "text": long if i % 2 else POSTS[i % 4]} for i in range(24)])
    monkeypatch.setattr(batch, "CHUNK_BYTES", 1 << 20)
    monkeypatch.setattr(batch, "ProcessPoolExecutor", _Pool)
    monkeypatch.setattr(batch, "default_jobs", lambda model=None: 2)
    _Pool.sent.clear()
    postlens.label_file(src, tmp_path / "two.jsonl", jobs=2)
    assert max(len(t) for texts in _Pool.sent for t in texts) <= 4 * MAX_CHARS
    assert max(len(texts) for texts in _Pool.sent) <= 10 and sum(map(len, _Pool.sent)) == 24
    postlens.label_file(src, tmp_path / "one.jsonl", jobs=1)
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()  # same labels


def test_jobs_are_capped_at_the_cores_with_a_warning(tmp_path, monkeypatch):
    src = _write_jsonl(tmp_path / "in.jsonl", _rows(10))
    monkeypatch.setattr(batch, "ProcessPoolExecutor", _Pool)
    monkeypatch.setattr(batch, "default_jobs", lambda model=None: 2)
    _Pool.workers.clear()
    said: list[str] = []
    assert postlens.label_file(src, tmp_path / "out.csv", jobs=64, log=said.append).labelled == 10
    assert _Pool.workers == [2]
    assert any("--jobs 64" in s and "2 cores" in s for s in said)
