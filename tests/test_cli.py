import io
import json

import pytest

from postlens.cli import main


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)) if isinstance(stdin, bytes)
                            else io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_score_human(capsys):
    code, out, _ = run(capsys, "score", "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购")
    assert code == 0
    assert out.startswith("hard ad (硬广)")
    assert "user value:" in out and "why:" in out


def test_score_json_from_stdin(capsys, monkeypatch):
    code, out, _ = run(capsys, "score", "--json", stdin="@jamie Sorry about the delay — DM us your order number.",
                       monkeypatch=monkeypatch)
    assert code == 0
    result = json.loads(out)
    assert result["label"] == "service"
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-6
    code, out, _ = run(capsys, "score", "--json", stdin="\ufeff限时5折！立即抢购".encode("utf-8"), monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["label"] == "hard_ad"  # bytes, with a byte-order mark


@pytest.mark.parametrize("argv, stdin, message", [
    (["score", "   "], None, "empty"),
    (["score"], "", "empty"),
    (["score"], "限时".encode("gbk"), "standard input is not UTF-8 text (invalid continuation byte at byte 0)"),
    (["evaluate", "missing.jsonl"], None, "missing.jsonl: no such file"),
    (["score", "--model", "no/such/dir", "hi"], None, "no such model directory"),
])
def test_errors_are_one_line_exit_2(capsys, monkeypatch, argv, stdin, message):
    code, out, err = run(capsys, *argv, stdin=stdin, monkeypatch=monkeypatch)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_evaluate_report(capsys, tmp_path):
    f = tmp_path / "labelled.jsonl"
    rows = [
        {"text": "限时5折！点击下方链接立即抢购", "label": "hard_ad", "lang": "zh"},
        {"text": "@sam Sorry about that, please DM us your order number.", "label": "service", "lang": "en"},
        {"text": "热烈祝贺我司荣获年度最佳雇主称号", "label": "brand_news", "lang": "zh"},
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "evaluate", str(f))
    assert code == 0
    assert "macro-F1" in out and "confusion" in out and "precision" in out
    code, out, _ = run(capsys, "evaluate", "--json", str(f))
    report = json.loads(out)
    assert report["n_posts"] == 3 and report["accuracy"] == 1.0


@pytest.mark.parametrize("content, message", [
    ('{"text": "hi", "label": "hard_ad"}\n{not json\n', "labelled.jsonl row 2: broken JSON"),
    ('{"text": "hi", "label": "adverts"}\n', "unknown label 'adverts' in labelled.jsonl row 1"),
    ('{"text": "hi", "label": "hard ad"}\n', "unknown label 'hard ad' in labelled.jsonl row 1; did you mean 'hard_ad'?"),
    ('{"label": "hard_ad"}\n', "labelled.jsonl: no text column found"),
    ('["text", "label"]\n', "labelled.jsonl row 1: not a JSON object"),
    ('{"text": "hi", "label": "hard_ad"}\n{"text": 5, "label": "service"}\n', "labelled.jsonl row 2: field 'text' is a number"),
    ('{"text": "hi", "label": null}\n', "labelled.jsonl row 1: no label (field 'label' is empty or not text)"),
])
def test_evaluate_bad_rows_name_file_and_line(capsys, tmp_path, content, message):
    f = tmp_path / "labelled.jsonl"
    f.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, "evaluate", str(f))
    assert code == 2 and message in err


def test_evaluate_non_utf8(capsys, tmp_path):
    f = tmp_path / "labelled.jsonl"
    f.write_bytes('{"text": "你好", "label": "service"}\n'.encode("gbk"))
    code, _, err = run(capsys, "evaluate", str(f))
    assert code == 2 and "labelled.jsonl row 1: bytes that are not valid utf-8" in err
