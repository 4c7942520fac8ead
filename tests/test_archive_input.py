"""Reading archives whatever they hold (issue 14, items 2, 9, 13-16): encodings, unclosed quotes, a late first
JSON object, numbers JSON output cannot write back, malformed --text-column, errors that name their file."""
import codecs
import csv
import errno
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import postlens
from postlens.archive import ArchiveError, RecordWriter, open_archive
from postlens.cli import main

POSTS = ["限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
         "春节期间营业时间调整通知：除夕至初三闭店，初四起恢复正常营业",
         "评论区说说你最想去的城市，抽3位送出定制周边"]


def _csv_text(n: int = 30, text: str = "text") -> str:
    return f"id,{text}\n" + "".join(f"{i},{POSTS[i % 3]} {i}\n" for i in range(n))


def _read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _label(capsys, *args: str) -> tuple[int, str]:
    code = main(["label", *map(str, args), "--jobs", "1"])
    return code, capsys.readouterr().err


# ---- 13: encodings ---------------------------------------------------------------------------------
def test_gbk_file_is_refused_before_labelling_naming_the_encoding(tmp_path, capsys):
    src, out = tmp_path / "wechat.csv", tmp_path / "out.csv"
    src.write_bytes(_csv_text(30, "正文").encode("gbk"))
    code, err = _label(capsys, src, "-o", out)
    assert code == 2 and "wechat.csv: not UTF-8" in err and "--encoding gb18030" in err
    assert not out.exists() and not (tmp_path / "out.csv.parts").exists()
    code, err = _label(capsys, src, "-o", out, "--encoding", "gb18030")
    rows = _read_csv(out)
    assert code == 0 and len(rows) == 30 and rows[0]["正文"] == POSTS[0] + " 0" and rows[0]["label"] == "hard_ad"


@pytest.mark.parametrize("bom,encoding", [(b"", "utf-16"), (b"", "utf-32"), (b"", "utf-8-sig"),
                                          (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF32_BE, "utf-32-be")])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_byte_order_mark_says_the_encoding(tmp_path, capsys, bom, encoding, suffix):
    src, out = tmp_path / f"in{suffix}", tmp_path / "out.jsonl"
    text = (_csv_text(40) if suffix == ".csv" else
            "".join(json.dumps({"id": i, "text": POSTS[i % 3]}, ensure_ascii=False) + "\n" for i in range(40)))
    src.write_bytes(bom + text.replace("\n", "\r\n").encode(encoding))
    for given in ([], ["--encoding", "utf-16"] if encoding == "utf-16" else []):
        code, err = _label(capsys, src, "-o", out, *given)
        rows = _read_jsonl(out)
        assert code == 0 and len(rows) == 40 and "0 rejected" in err
        assert [str(r["id"]) for r in rows] == [str(i) for i in range(40)]
        assert rows[1]["text"] == POSTS[1] + (" 1" if suffix == ".csv" else "") and rows[0]["label"] == "hard_ad"


def test_utf16_without_a_byte_order_mark(tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(_csv_text(20).encode("utf-16-le"))
    code, err = _label(capsys, src, "-o", out)
    assert code == 2 and "--encoding utf-16-le" in err
    code, _ = _label(capsys, src, "-o", out, "--encoding", "utf-16-le")
    assert code == 0 and [r["id"] for r in _read_csv(out)] == [str(i) for i in range(20)]


def test_utf16_that_does_not_decode_rejects_the_row_not_the_file(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(codecs.BOM_UTF16_LE + "id,text\n1,".encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate
                    + f"\n2,{POSTS[0]}\n".encode("utf-16-le"))
    run = postlens.label_archive(src)
    assert [r["id"] for r in run] == ["2"] and [r.row for r in run.rejected] == [1]


def test_a_stray_latin1_line_is_a_rejected_row_not_a_refused_file(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(_csv_text(5).encode() + b"5,caf\xe9 au lait\n")
    run = postlens.label_archive(src)
    assert len(list(run)) == 5 and "not valid utf-8" in run.rejected[0].reason


def test_every_row_rejected_is_not_a_success(tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b"id,text\n1," + POSTS[0].encode("gbk") + b"\n")  # one line: too little to refuse up front
    code, err = _label(capsys, src, "-o", out)
    assert code == 2 and "the only row could not be labelled; its reason is in" in err and "out.csv.errors.jsonl" in err
    assert "--encoding" in err and (tmp_path / "out.csv.errors.jsonl").exists()
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": 5}\n{"id": 2, "text": 6}\n', encoding="utf-8")
    code, err = _label(capsys, src, "-o", out)
    assert code == 2 and "none of the 2 rows" in err and "--text-column" in err


# ---- 14: an unclosed quote -----------------------------------------------------------------------------
def test_an_unclosed_quote_is_reported_with_its_line_and_the_lines_it_took(tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(f"id,text,n\n1,{POSTS[0]},1\n2,\"{POSTS[1]},2\n3,{POSTS[2]},3\n4,{POSTS[0]},4\n", encoding="utf-8")
    code, err = _label(capsys, src, "-o", out)
    assert code == 0 and [r["id"] for r in _read_csv(out)] == ["1"]
    assert "warning" in err and "quote opened on line 3 is never closed" in err and "the 3 lines" in err
    (error,) = _read_jsonl(tmp_path / "out.csv.errors.jsonl")
    assert (error["row"], error["line"]) == (2, 3) and "never closed" in error["reason"]
    assert error["raw"].startswith('2,"') and error["raw"].endswith(f"4,{POSTS[0]},4\n")  # the lines as they are


def test_a_closed_multiline_quote_at_the_end_is_fine(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(f'id,text\n1,{POSTS[0]}\n2,"{POSTS[1]}\nsecond line"""', encoding="utf-8")  # no final newline
    archive = open_archive(src)
    (chunk,) = archive.chunks()
    assert chunk.records[1]["text"] == POSTS[1] + '\nsecond line"' and not chunk.rejected and not archive.warnings


# ---- 15: a malformed --text-column -------------------------------------------------------------------
@pytest.mark.parametrize("text_column", ["caption+", "+text", "title++digest", " + "])
def test_a_text_column_with_an_empty_name_is_refused(tmp_path, capsys, text_column):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,caption,text,title,digest\n1,a,b,c,d\n", encoding="utf-8")
    code, err = _label(capsys, src, "-o", out, "--text-column", text_column)
    assert code == 2 and f"--text-column {text_column!r}" in err and "no field None" not in err
    assert not out.exists()
    with pytest.raises(ArchiveError, match="a column name is missing"):  # before a JSONL row is read
        open_archive(io.BytesIO(b"{broken\n"), text_column=text_column)


# ---- 16: errors name their file --------------------------------------------------------------------------
def test_a_damaged_parquet_page_names_the_file(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    src = tmp_path / "posts.parquet"
    pq.write_table(pa.table({"id": list(range(500)), "text": [POSTS[i % 3] for i in range(500)]}), src,
                   compression="none")
    data = bytearray(src.read_bytes())
    data[4: len(data) // 2] = b"\xab" * (len(data) // 2 - 4)  # the first pages, not the footer
    src.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=f"{src}: damaged, cannot read on from row 1"):
        postlens.label_file(src, tmp_path / "out.csv", jobs=1)


def test_a_damaged_saved_dataset_names_it(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"text": POSTS * 100}).save_to_disk(str(tmp_path / "ds"))
    (arrow,) = (tmp_path / "ds").glob("*.arrow")
    data = bytearray(arrow.read_bytes())
    data[8:] = b"\xab" * (len(data) - 8)
    arrow.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=f"{tmp_path / 'ds'}: not a readable saved dataset"):
        open_archive(tmp_path / "ds")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_disk_full_names_the_file(fmt):
    writer = RecordWriter(Path("/dev/full"), fmt, ["text"], header=True)
    with pytest.raises(OSError) as caught:
        writer.write([{"text": POSTS[0]}] * 10_000)
        writer.close()
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "/dev/full"
    assert "/dev/full" in str(caught.value)


def test_a_write_error_in_a_run_names_the_file(tmp_path):
    """A file size limit makes writes fail as a full disk does (EFBIG, naming no file)."""
    src = tmp_path / "in.csv"
    src.write_text(_csv_text(2000), encoding="utf-8")
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); from postlens.cli import main; "
            f"sys.exit(main(['label', {str(src)!r}, '-o', {str(tmp_path / 'out.csv')!r}, '--jobs', '1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2 and "File too large" in proc.stderr
    assert str(tmp_path / "out.csv") in proc.stderr and "Traceback" not in proc.stderr


def test_no_at_at_in_a_json_error(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "a\tb"}\n' + json.dumps({"text": POSTS[0]}).encode() + b"\n")
    run = postlens.label_archive(src)
    list(run)
    assert "broken JSON" in run.rejected[0].reason and "at at" not in run.rejected[0].reason


# ---- 2: the first JSON object comes late -----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_columns_come_from_the_first_object_however_late(tmp_path, fmt):
    src, out = tmp_path / "late.jsonl", tmp_path / f"out.{fmt}"
    rows = [{"id": i, "text": POSTS[i % 3], "reads": i * 10} for i in range(5)]
    src.write_text("{broken\n" * 2100 + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                   encoding="utf-8")
    summary = postlens.label_file(src, out, jobs=1)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (2105, 5, 2100)
    if fmt == "csv":
        got = _read_csv(out)
        assert [(r["id"], r["reads"]) for r in got] == [(str(i), str(i * 10)) for i in range(5)]
    else:
        import pyarrow.parquet as pq

        got = pq.read_table(out).to_pylist()
        assert [(r["id"], r["reads"], r["text"]) for r in got] == [(r["id"], r["reads"], r["text"]) for r in rows]
    assert got[0]["label"] == "hard_ad" and not (tmp_path / f"out.{fmt}.parts").exists()


def test_a_late_first_object_on_standard_input_is_accounted_for(tmp_path, monkeypatch):
    """On a stream the columns can only come from the first block: a later object is rejected, never lost."""
    lines = "{broken\n" * 10_000 + json.dumps({"id": 1, "text": POSTS[0]}) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    out = tmp_path / "out.csv"
    summary = postlens.label_file("-", out, jobs=1)
    assert (summary.rows_read, summary.rejected) == (10_001, 10_001)
    last = _read_jsonl(tmp_path / "out.csv.errors.jsonl")[-1]
    assert last["raw"] == {"id": 1, "text": POSTS[0]} and "'id', 'text'" in last["reason"]


# ---- 9: values pass through unchanged ------------------------------------------------------------------
def test_numbers_json_cannot_write_back_keep_their_text(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"big": 123456789012345678901234567890, "neg": -9223372036854775809, '
                   '"u64": 18446744073709551615, "id": 1234567890123456789, "nan": NaN, "inf": Infinity, "minf": -Infinity, "huge": 1e400, '
                   '"deep": [99999999999999999999999, NaN], "x": 1.5, "text": "限时5折！立即抢购"}\n', encoding="utf-8")
    postlens.label_file(src, tmp_path / "out.jsonl", jobs=1)
    (row,) = _read_jsonl(tmp_path / "out.jsonl")
    assert (row["big"], row["neg"], row["u64"], row["id"]) == (
        "123456789012345678901234567890", "-9223372036854775809", 18446744073709551615, 1234567890123456789)
    assert (row["nan"], row["inf"], row["minf"], row["huge"]) == ("NaN", "Infinity", "-Infinity", "1e400")
    assert row["deep"] == ["99999999999999999999999", "NaN"] and row["x"] == 1.5 and row["label"] == "hard_ad"
    postlens.label_file(src, tmp_path / "out.csv", jobs=1)
    (cells,) = _read_csv(tmp_path / "out.csv")
    assert (cells["big"], cells["neg"], cells["nan"], cells["minf"]) == (
        "123456789012345678901234567890", "-9223372036854775809", "NaN", "-Infinity")
