"""Batch labelling of archives: formats, pass-through, bad rows with exact accounting, resume, order."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import postlens
from postlens import batch
from postlens.archive import ArchiveError
from postlens.cli import main

LABELS = list(postlens.LABELS)
ADDED = ["label", *[f"p_{label}" for label in sorted(LABELS)], "user_value", "uncertain", "language"]
POSTS = [
    "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
    "@jamie Sorry about the delay — please DM us your order number and we'll sort it out. ^KL",
    "春节期间营业时间调整通知：除夕至初三闭店，初四起恢复正常营业",
    "Our CEO joined the World Economic Forum panel on AI today",
    "评论区说说你最想去的城市，抽3位送出定制周边",
    "5 ways to make your morning coffee taste better (no fancy gear needed)",
]


def _rows(n: int) -> list[dict]:
    return [{"id": str(i), "date": f"2024-01-{i % 28 + 1:02d}", "text": POSTS[i % len(POSTS)] + f" #{i}"}
            for i in range(n)]


def _write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _read_csv(path: Path, delimiter: str = ",") -> list[dict]:
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


# ---- formats and pass-through -------------------------------------------------------------------
@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t"), (".csv", ";")])
def test_csv_and_tsv_keep_every_column(tmp_path, suffix, delimiter):
    src = tmp_path / f"in{suffix}"
    _write_csv(src, _rows(20), delimiter)
    out = tmp_path / "out.csv"
    summary = postlens.label_file(src, out, jobs=1)
    got = _read_csv(out)
    assert summary.rows_read == summary.labelled == 20 and summary.rejected == 0
    assert list(got[0]) == ["id", "date", "text", *ADDED]
    assert [r["id"] for r in got] == [str(i) for i in range(20)]
    assert [r["date"] for r in got] == [r["date"] for r in _rows(20)]
    assert got[0]["label"] == "hard_ad" and got[1]["label"] == "service"
    assert abs(sum(float(got[0][f"p_{label}"]) for label in LABELS) - 1) < 1e-3
    assert not (tmp_path / "out.csv.errors.jsonl").exists()


def test_jsonl_in_parquet_out_keeps_types(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "in.jsonl"
    rows = [{"id": i, "reads": i * 10, "account": "acme", "text": POSTS[i % 6]} for i in range(12)]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.parquet"
    postlens.label_file(src, out, jobs=1)
    table = pq.read_table(out).to_pylist()
    assert [r["id"] for r in table] == list(range(12))
    assert [r["reads"] for r in table] == [i * 10 for i in range(12)]
    assert table[0]["label"] == "hard_ad" and isinstance(table[0]["uncertain"], bool)


def test_parquet_in_jsonl_out(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"post_id": [1, 2, 3], "content": POSTS[:3], "likes": [5, None, 7]}), src)
    out = tmp_path / "out.jsonl"
    postlens.label_file(src, out, jobs=1)
    got = _read_jsonl(out)
    assert [(r["post_id"], r["likes"]) for r in got] == [(1, 5), (2, None), (3, 7)]
    assert [r["label"] for r in got] == ["hard_ad", "service", "service"]


def test_saved_dataset_and_label_batch_with_map(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"id": list(range(8)), "text": [POSTS[i % 6] for i in range(8)]})
    ds.save_to_disk(str(tmp_path / "ds"))
    out = tmp_path / "out.jsonl"
    summary = postlens.label_file(tmp_path / "ds", out, jobs=1)
    assert summary.labelled == 8 and [r["id"] for r in _read_jsonl(out)] == list(range(8))

    bad = datasets.Dataset.from_dict({"id": [0, 1, 2], "text": [POSTS[0], None, "  "]})
    mapped = bad.map(postlens.label_batch, batched=True, batch_size=2, num_proc=2)
    assert mapped["id"] == [0, 1, 2]
    assert mapped["label"] == ["hard_ad", None, None]
    assert mapped["postlens_error"][0] is None and "empty" in mapped["postlens_error"][1]

    gold = datasets.Dataset.from_dict({"text": [POSTS[0], POSTS[1]], "label": ["brand_news", "service"]})
    mapped = gold.map(postlens.label_batch, batched=True)  # a labelled dataset keeps its own labels
    assert mapped["label"] == ["brand_news", "service"] and mapped["postlens_label"][0] == "hard_ad"
    assert "postlens_p_hard_ad" in mapped.column_names and "p_hard_ad" not in mapped.column_names

    DatasetDict = datasets.DatasetDict
    DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(ArchiveError, match="several splits"):
        postlens.label_file(tmp_path / "dd", out)


def test_title_and_digest_are_joined_and_text_column_can_be_named(tmp_path):
    src = tmp_path / "wechat.csv"
    _write_csv(src, [{"标题": "春节营业时间调整通知", "digest": "除夕至初三闭店", "reads": "9"}])
    rows = list(postlens.label_archive(src))
    assert rows[0]["label"] == "service"
    run = postlens.label_archive(src, text_column="reads")
    assert list(run)[0]["label"]  # a number as text is still text in a CSV
    with pytest.raises(ArchiveError, match="did you mean 'digest'"):
        postlens.label_archive(src, text_column="digets")


def test_stdin_to_stdout(tmp_path):
    lines = "".join(json.dumps({"n": i, "text": POSTS[i]}, ensure_ascii=False) + "\n" for i in range(3))
    proc = subprocess.run([sys.executable, "-m", "postlens.cli", "label", "-"], input=lines.encode(),
                          capture_output=True, check=True)
    got = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["n"] for r in got] == [0, 1, 2] and got[0]["label"] == "hard_ad"
    csv_in = "id,text\n1,限时5折！立即抢购\n"
    proc = subprocess.run([sys.executable, "-m", "postlens.cli", "label", "-", "--quiet"], input=csv_in.encode(),
                          capture_output=True, check=True)
    assert json.loads(proc.stdout)["id"] == "1"


def test_label_archive_yields_rows_and_keeps_rejects(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "限时5折！立即抢购"}\n{"text": null}\n', encoding="utf-8")
    run = postlens.label_archive(src)
    rows = list(run)
    assert len(rows) == 1 and rows[0]["label"] == "hard_ad"
    assert (run.rows_read, run.labelled, [r.row for r in run.rejected]) == (2, 1, [2])


def test_input_that_already_has_a_label_column(tmp_path):
    src = tmp_path / "labelled.jsonl"
    src.write_text(json.dumps({"text": POSTS[0], "label": "hard_ad"}) + "\n", encoding="utf-8")
    row = list(postlens.label_archive(src))[0]
    assert row["label"] == "hard_ad" and row["postlens_label"] == "hard_ad" and "postlens_p_service" in row


# ---- bad rows: never kill the job, never vanish ---------------------------------------------------
def test_every_kind_of_bad_row_is_accounted_for(tmp_path):
    src = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"id": 1, "text": POSTS[0]}),
        json.dumps({"id": 2}),                       # missing field
        json.dumps({"id": 3, "text": ""}),           # empty
        json.dumps({"id": 4, "text": 42}),           # not text
        '{"id": 5, "text": "broken',                 # broken JSON
        "",                                          # blank line: not a row
        "[1, 2]",                                    # not an object
        json.dumps({"id": 7, "text": POSTS[1]}),
    ]
    data = ("\n".join(lines) + "\n").encode() + b'{"id": 8, "text": "caf\xe9"}\n'  # not UTF-8
    src.write_bytes(data)
    out = tmp_path / "out.jsonl"
    summary = postlens.label_file(src, out, jobs=1)
    errors = _read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [r["id"] for r in _read_jsonl(out)] == [1, 7]
    assert [(e["row"], e["line"]) for e in errors] == [(2, 2), (3, 3), (4, 4), (5, 5), (6, 7), (8, 9)]
    reasons = [e["reason"] for e in errors]
    assert "no field 'text'" in reasons[0] and "empty" in reasons[1] and "number" in reasons[2]
    assert "broken JSON" in reasons[3] and "not a JSON object" in reasons[4] and "utf-8" in reasons[5]
    assert summary.rows_read == 8 == summary.labelled + summary.rejected and summary.rejected == 6


def test_bad_csv_rows(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_bytes("id,text,reads\n1,限时5折！立即抢购,3\n2,too,many,fields\n3,,4\n4\n".encode()
                    + b"5,caf\xe9 au lait,1\n" + "6,\"a quoted\nline break\",2\n".encode())
    out = tmp_path / "out.csv"
    summary = postlens.label_file(src, out, jobs=1)
    errors = _read_jsonl(tmp_path / "out.csv.errors.jsonl")
    assert [r["id"] for r in _read_csv(out)] == ["1", "6"]
    assert [(e["row"], e["line"]) for e in errors] == [(2, 3), (3, 4), (4, 5), (5, 6)]
    assert "4 fields, the header has 3" in errors[0]["reason"] and errors[0]["raw"] == "2,too,many,fields"
    assert "empty" in errors[1]["reason"] and "1 fields" in errors[2]["reason"]
    assert "'text' has bytes that are not valid utf-8" in errors[3]["reason"] and "\\xe9" in errors[3]["raw"]
    assert (summary.rows_read, summary.labelled, summary.rejected) == (6, 2, 4)


def test_unusable_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["label", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    src = tmp_path / "in.csv"
    _write_csv(src, _rows(2))
    assert main(["label", str(src), "-o", str(tmp_path / "o.csv"), "--text-column", "txt"]) == 2
    err = capsys.readouterr().err
    assert "no column 'txt'" in err and "did you mean 'text'" in err and "Traceback" not in err
    assert main(["label", str(src), "-o", str(tmp_path / "o.xlsx")]) == 2
    assert "output format" in capsys.readouterr().err
    (tmp_path / "notext.csv").write_text("id,reads\n1,2\n", encoding="utf-8")
    assert main(["label", str(tmp_path / "notext.csv"), "-o", str(tmp_path / "o.csv")]) == 2
    assert "no text column found" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


# ---- order, atomic output and resume -----------------------------------------------------------------
def test_several_jobs_keep_input_order(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK_ROWS", 7)
    src = tmp_path / "in.csv"
    _write_csv(src, _rows(100))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    postlens.label_file(src, one, jobs=1)
    postlens.label_file(src, two, jobs=2)
    assert one.read_bytes() == two.read_bytes()
    assert [r["id"] for r in _read_jsonl(two)] == [str(i) for i in range(100)]


class _Crash(Exception):
    pass


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_resume_after_interruption_loses_and_repeats_nothing(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(batch, "CHUNK_ROWS", 5)
    monkeypatch.setattr(batch, "PART_ROWS", 10)
    src = tmp_path / "in.jsonl"
    rows = _rows(57)
    rows[13]["text"] = ""  # one rejected row, before the interruption
    rows[44]["text"] = ""  # and one after
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    whole = tmp_path / f"whole.{fmt}"
    postlens.label_file(src, whole, jobs=1)

    out = tmp_path / f"out.{fmt}"
    real = batch._advance  # called once per chunk, after the chunk is written
    calls = {"n": 0}

    def crash_after_some(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # in the middle of the third part
            raise _Crash()
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "_advance", crash_after_some)
    with pytest.raises(_Crash):
        postlens.label_file(src, out, jobs=1)
    assert not out.exists()  # no half file that looks complete
    monkeypatch.setattr(batch, "_advance", real)
    summary = postlens.label_file(src, out, jobs=1, resume=True)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (57, 55, 2)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(out).to_pylist() == pq.read_table(whole).to_pylist()
    else:
        assert out.read_bytes() == whole.read_bytes()
    assert (tmp_path / f"out.{fmt}.errors.jsonl").read_bytes() == (tmp_path / f"whole.{fmt}.errors.jsonl").read_bytes()
    assert not (tmp_path / f"out.{fmt}.parts").exists()


def test_resume_refuses_a_changed_input(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK_ROWS", 5)
    monkeypatch.setattr(batch, "PART_ROWS", 10)
    src = tmp_path / "in.csv"
    _write_csv(src, _rows(30))
    out = tmp_path / "out.csv"
    real = batch._advance
    monkeypatch.setattr(batch, "_advance", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["label", str(src), "-o", str(out), "--jobs", "1"]) == 130
    monkeypatch.setattr(batch, "_advance", real)
    _write_csv(src, _rows(31))
    with pytest.raises(ArchiveError, match="changed since the interrupted run"):
        postlens.label_file(src, out, jobs=1, resume=True)
    assert main(["label", str(src), "-o", str(out), "--jobs", "1", "--quiet"]) == 0  # starting over is fine
    assert len(_read_csv(out)) == 31


def test_killed_run_resumes(tmp_path):
    """A real SIGKILL in the middle of a run, then --resume: same output as one clean run."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(3000)), encoding="utf-8")
    code = ("import sys, os, signal; from postlens import batch; batch.CHUNK_ROWS = 50; batch.PART_ROWS = 200\n"
            "real = batch._advance; n = {'n': 0}\n"
            "def advance(*a):\n    n['n'] += 1\n    if n['n'] == 25: os.kill(os.getpid(), signal.SIGKILL)\n    return real(*a)\n"
            "batch._advance = advance\n"
            f"batch.label_file({str(src)!r}, {str(tmp_path / 'out.csv')!r}, jobs=1)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9
    assert not (tmp_path / "out.csv").exists() and (tmp_path / "out.csv.parts").exists()
    assert main(["label", str(src), "-o", str(tmp_path / "out.csv"), "--resume", "--quiet"]) == 0
    assert main(["label", str(src), "-o", str(tmp_path / "clean.csv"), "--quiet", "--jobs", "1"]) == 0
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "clean.csv").read_bytes()


# ---- ecosystem ---------------------------------------------------------------------------------------
def test_spacy_component_fills_cats():
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("xx")
    nlp.add_pipe("postlens")
    doc = nlp(POSTS[0])
    assert max(doc.cats, key=doc.cats.get) == "hard_ad" and abs(sum(doc.cats.values()) - 1) < 1e-6
    docs = list(nlp.pipe([POSTS[1], "   ", POSTS[2]], batch_size=2))
    assert max(docs[0].cats, key=docs[0].cats.get) == "service" and docs[1].cats == {}


def test_dask_map_partitions_labels_every_row_in_place():
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"id": range(6), "text": [POSTS[0], POSTS[1], None, POSTS[2], "", POSTS[4]]})
    out = dd.from_pandas(frame, npartitions=3).map_partitions(postlens.label_frame).compute()
    assert out["id"].tolist() == list(range(6))
    assert out["label"].tolist()[:2] == ["hard_ad", "service"] and out["label"].tolist()[3] == "service"
    errors = out["postlens_error"].tolist()
    assert "empty (null)" in errors[2] and "empty" in errors[4]
    assert all(pd.isna(errors[i]) for i in (0, 1, 3, 5))
    labelled = out[out["label"].notna()]
    assert ((labelled[[f"p_{label}" for label in LABELS]].sum(axis=1) - 1).abs() < 1e-3).all()


def test_output_over_the_input_is_refused(tmp_path, capsys):
    src = tmp_path / "in.csv"
    _write_csv(src, _rows(3))
    before = src.read_bytes()
    assert main(["label", str(src), "-o", str(src)]) == 2
    assert "is the input" in capsys.readouterr().err and src.read_bytes() == before


@pytest.mark.parametrize("argv", [
    ["label", "{src}", "-o", "{missing}/out.csv"],
    ["report", "{src}", "--html", "{missing}/report.html"],
    ["suggest", "{src}", "-o", "{missing}/next.csv"],
])
def test_an_output_in_a_missing_directory_is_refused_before_any_work(tmp_path, capsys, argv):
    src = tmp_path / "in.csv"
    _write_csv(src, _rows(3))
    missing = tmp_path / "no" / "such"
    assert main([a.format(src=src, missing=missing) for a in argv]) == 2
    assert f"the directory {missing} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()  # not created on the way


def test_label_frame_keeps_the_frames_own_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": [POSTS[0]], "label": ["brand_news"], "user_value": [3]})
    out = postlens.label_frame(frame)
    assert out["label"].tolist() == ["brand_news"] and out["user_value"].tolist() == [3]
    assert out["postlens_label"].tolist() == ["hard_ad"] and "postlens_p_service" in out.columns
    with pytest.raises(ArchiveError, match="two columns are named 'text' \\(columns 1 and 2\\)"):
        postlens.label_frame(pd.DataFrame([["a", "b"]], columns=["text", "text"]))


def test_two_columns_of_one_name_are_refused(tmp_path, capsys):
    """Read as records, the second column of a name would overwrite the first: refused, not lost."""
    (tmp_path / "dup.csv").write_text("text,id,text\nhello,1,world\n", encoding="utf-8")
    assert main(["label", str(tmp_path / "dup.csv"), "-o", str(tmp_path / "out.csv")]) == 2
    assert "two columns are named 'text' (columns 1 and 3); give each column its own name" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_label_batch_and_frame_reject_what_they_cannot_read():
    with pytest.raises(ArchiveError, match="no text column"):
        postlens.label_batch({"id": [1, 2]})
    with pytest.raises(ValueError, match=r"columns of equal length.*'text': 2 values, 'id': 1 values"):
        postlens.label_batch({"text": ["限时5折", "hello"], "id": [1]})
    with pytest.raises(ValueError, match=r"'text': not a list"):
        postlens.label_batch({"text": "限时5折"})
    pd = pytest.importorskip("pandas")
    with pytest.raises(ArchiveError, match="did you mean 'text'"):
        postlens.label_frame(pd.DataFrame({"text": ["a"]}), text_column="txt")


def test_wrong_kinds_of_input_are_type_errors(tmp_path):
    with pytest.raises(TypeError, match="binary stream"):
        postlens.label_archive(123)
    with pytest.raises(TypeError, match="binary stream"):
        postlens.label_archive(open(tmp_path / "t.txt", "w+", encoding="utf-8"))
    with pytest.raises(TypeError, match="dict of lists"):
        postlens.label_batch("限时5折")
    with pytest.raises(TypeError, match="DataFrame"):
        postlens.label_frame(["a", "b"])
    (tmp_path / "plain_dir").mkdir()
    with pytest.raises(ArchiveError, match="not a dataset"):
        postlens.label_archive(tmp_path / "plain_dir")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ArchiveError, match="not a readable Parquet"):
        postlens.label_archive(tmp_path / "bad.parquet")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ArchiveError, match="empty"):
        postlens.label_archive(tmp_path / "empty.csv")


def test_empty_jsonl_gives_an_empty_output(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    summary = postlens.label_file(tmp_path / "empty.jsonl", tmp_path / "out.jsonl", jobs=1)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (0, 0, 0)
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == ""


def test_parquet_without_rows_has_the_columns_and_types_rows_would_have(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    (tmp_path / "header.csv").write_text("id,text,label\n", encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"text": 5}\n[1]\n', encoding="utf-8")
    (tmp_path / "one.csv").write_text("id,text,label\n7,限时5折,x\n", encoding="utf-8")
    for source in ("header.csv", "bad.jsonl", "one.csv"):
        postlens.label_file(tmp_path / source, tmp_path / f"{source}.parquet", jobs=1)
    typed = {f.name: str(f.type) for f in pq.read_schema(tmp_path / "one.csv.parquet")}
    empty = {f.name: str(f.type) for f in pq.read_schema(tmp_path / "header.csv.parquet")}
    assert empty == typed and typed["postlens_p_hard_ad"] == "double" and typed["postlens_uncertain"] == "bool"
    assert list(empty)[:4] == ["id", "text", "label", "postlens_label"]
    rejected_only = {f.name: str(f.type) for f in pq.read_schema(tmp_path / "bad.jsonl.parquet")}
    assert rejected_only["p_service"] == "double" and rejected_only["uncertain"] == "bool"


def test_nested_values_pass_through(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": POSTS[0], "tags": ["sale", "新品"], "meta": {"reads": 5}, "score": 1.5},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    postlens.label_file(src, tmp_path / "out.jsonl", jobs=1)
    row = _read_jsonl(tmp_path / "out.jsonl")[0]
    assert (row["tags"], row["meta"], row["score"], row["label"]) == (["sale", "新品"], {"reads": 5}, 1.5, "hard_ad")
    postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    cell = _read_csv(tmp_path / "out.csv")[0]
    assert json.loads(cell["tags"]) == ["sale", "新品"] and json.loads(cell["meta"]) == {"reads": 5}


def test_csv_probabilities_are_the_numbers_the_other_formats_hold(tmp_path):
    """CSV output writes probabilities from a table of texts; they must read back as the JSONL numbers."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(60)), encoding="utf-8")
    postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    postlens.label_file(src, tmp_path / "out.jsonl", jobs=1)
    as_csv, as_jsonl = _read_csv(tmp_path / "out.csv"), _read_jsonl(tmp_path / "out.jsonl")
    columns = [f"p_{label}" for label in LABELS]
    assert [[r[c] for c in columns] for r in as_csv] == [[repr(r[c]) for c in columns] for r in as_jsonl]
    assert all(0 <= r[c] <= 1 and round(r[c], 4) == r[c] for r in as_jsonl for c in columns)
