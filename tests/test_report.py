"""`postlens report`: the account report over time, per account and with engagement, as text, JSON and HTML."""
import csv
import json
import os
import shutil
import subprocess

import pytest

from postlens.cli import main
from postlens.report import build_report

from .conftest import ROOT

SAMPLE = ROOT / "notebooks" / "sample_posts.csv"


@pytest.fixture(scope="module")
def report():
    return build_report(SAMPLE, jobs=1)


def test_report_of_a_raw_archive(report):
    assert report.overall.n_posts == 180 and report.rejected == 0
    assert report.columns == {"text": "text", "date": "date", "account": "account", "engagement": ["likes", "shares"]}
    assert report.period_unit == "week" and sum(p["n"] for p in report.periods) == 180
    assert set(report.trend) == set(report.labels)
    assert [a["account"] for a in report.accounts] == sorted(
        [a["account"] for a in report.accounts], key=lambda x: -next(a["score"] for a in report.accounts
                                                                    if a["account"] == x))
    assert sum(a["n"] for a in report.accounts) == 180
    assert set(report.engagement) == {"likes", "shares"}
    assert all(len(v) <= 3 for v in report.examples.values())
    text = report.format()
    assert "mix per week" in text and "accounts, best score first" in text and "likes per label" in text


def test_labelled_input_is_read_as_labelled(report, tmp_path):
    assert main(["label", str(SAMPLE), "-o", str(tmp_path / "labelled.csv"), "--quiet", "--jobs", "1"]) == 0
    again = build_report(tmp_path / "labelled.csv")
    assert again.overall.mix == pytest.approx(report.overall.mix)
    assert again.overall.score == report.overall.score
    assert [a["account"] for a in again.accounts] == [a["account"] for a in report.accounts]


def test_one_account_without_dates_or_engagement(tmp_path):
    path = tmp_path / "posts.jsonl"
    texts = ["限时5折！点击下方链接立即抢购", "今晚8点直播间秒杀，库存有限，手慢无", "新品预售立减50元，戳链接下单",
             "买一送一仅限今天，快来抢购", "@sam Sorry about that — DM us your order number and we'll fix it today."]
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    r = build_report(path, jobs=1)
    assert r.periods == [] and r.accounts == [] and r.engagement == {}
    assert "max_consecutive.hard_ad" in {f.rule for f in r.overall.findings}  # order rules apply to one account
    assert any("break up the run of 4 hard ads" in x for x in r.overall.recommendations)


def test_empty_archive_and_rows_without_text(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,date\n", encoding="utf-8")
    r = build_report(empty, jobs=1)
    assert r.overall.n_posts == 0 and r.overall.score == 0.0
    assert "there are no posts to assess" in r.format()
    some = tmp_path / "some.csv"
    with open(some, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "date", "likes"])
        w.writerows([["限时5折！点击下方链接立即抢购", "2026-01-05", "10"], ["", "2026-01-06", "3"],
                     ["@sam Sorry — DM us your order number", "not a date", "n/a"]])
    r = build_report(some, jobs=1)
    assert r.overall.n_posts == 2 and r.rejected == 1
    assert any("1 date in column 'date' could not be read and counts as missing" in n for n in r.notes)
    assert sum(e["posts"] for e in r.engagement["likes"].values()) == 1  # "n/a" is not a number


def test_cli_text_json_html_and_errors(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(SAMPLE), "--html", str(out), "--profile", "ecommerce", "--jobs", "1"]) == 0
    html = out.read_text(encoding="utf-8")
    assert "guideline profile <b>ecommerce</b>" in html
    assert "http://" not in html and "https://" not in html.replace("https://t.co", "")  # nothing fetched
    assert "<script" not in html
    capsys.readouterr()
    assert main(["report", str(SAMPLE), "--json", "--jobs", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["n_posts"] == 180 and data["overall"]["steps"][0]["what"] == "average user value of the posts"
    assert main(["report", str(tmp_path / "missing.csv")]) == 2
    assert main(["report", str(SAMPLE), "--date-column", "when"]) == 2
    assert main(["report", str(SAMPLE), "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "no date column 'when'" in err and "shipped profiles" in err


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is needed for this test; .ci/run installs it (apt-get install chromium)")
    pytest.skip("no Chromium on this machine (CI installs it)")


def test_html_report_renders_in_headless_chromium(report, tmp_path):
    """Open the page as a person would, offline, and check that the charts and tables are there."""
    browser = _chromium()
    page = tmp_path / "report.html"
    page.write_text(report.to_html(), encoding="utf-8")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="mix-segment"') == sum(1 for v in report.overall.mix.values() if v > 0)
    assert dom.count('class="trend-line"') == len(report.labels)
    assert 'id="accounts"' in dom and dom.count("<tr>") >= len(report.accounts) + len(report.periods)
    for account in ("@harbor_coffee", "@lumen_support", "@trailmakers_club"):
        assert account in dom
    shot = tmp_path / "report.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
