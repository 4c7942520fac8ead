"""Behaviour of the public API on the shipped model."""
import datetime
import math
import threading

import pytest

import postlens
from postlens import LABELS

# Clear posts of each label, written for these tests (not from the corpus or the evaluation set).
CLEAR = {
    "hard_ad": [
        "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
        "双11预售开启：定金50抵150，前1000名下单再送保温杯，戳链接锁定名额👉",
        "Our summer sale ends tonight: 40% off everything sitewide. Shop now, link in bio 🛍️",
        "Pre-order the new TrailRunner 3 today for $89 and get free shipping. Only 500 pairs.",
    ],
    "service": [
        "@jamie Sorry about the delay — DM us your order number and we'll sort it out today.",
        "您好，抱歉给您带来不便，请您提供一下订单号，我们马上为您核实处理。",
        "【通知】因系统升级，本周六凌晨0:00-6:00手机银行暂停服务，给您带来不便敬请谅解。",
        "Heads up: our app will be down for scheduled maintenance tonight from 1-3am ET. Card payments are not affected.",
    ],
    "brand_news": [
        "热烈祝贺我司荣获2023年度最佳雇主称号",
        "集团董事长出席第五届数字经济峰会并发表主旨演讲",
        "We're proud to announce our partnership with UNICEF to bring clean water to 200 schools.",
        "Q3 results: revenue up 12% year on year; our CEO will host the earnings call at 9am ET.",
    ],
    "user_interest": [
        "立春将至，3个小动作唤醒满屋绿植",
        "冬至为什么要吃饺子？这个习俗背后的故事你可能不知道",
        "5 ways to make your morning coffee taste better (no fancy gear needed)",
        "Why do cats knock things off tables? A vet explains the science behind it.",
    ],
    "community": [
        "评论区说说你最想去的城市，抽3位送出定制周边",
        "转发+关注，周五抽5位宝子送出限定徽章！一起来晒晒你家的猫主子吧",
        "Tag a friend who needs this weekend — show us your best camping photo with #GoOutside",
        "Which flavour should we bring back this winter? Vote below 👇",
    ],
}


@pytest.mark.parametrize("label, text", [(lab, t) for lab, texts in CLEAR.items() for t in texts])
def test_clear_posts_land_on_their_label(label, text):
    assert postlens.score(text).label == label


def test_done_when_examples():
    assert postlens.score("限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购").label == "hard_ad"
    assert postlens.score("@jamie Sorry about the delay — DM us your order number and we'll sort it out today.").label \
        == "service"


def test_score_fields():
    s = postlens.score("评论区说说你最想去的城市，抽3位送出定制周边")
    assert set(s.probabilities) == set(LABELS)
    assert math.isclose(sum(s.probabilities.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= p <= 1.0 for p in s.probabilities.values())
    assert s.label == max(s.probabilities, key=s.probabilities.get)
    assert 0 <= s.user_value <= 100
    assert s.language == "zh"
    assert isinstance(s.uncertain, bool)
    assert s.evidence and all(isinstance(e, str) and e for e in s.evidence)
    assert s.to_dict()["label"] == s.label


def test_user_value_follows_guidelines():
    ad = postlens.score(CLEAR["hard_ad"][2])
    helpful = postlens.score(CLEAR["service"][0])
    assert ad.user_value < 40 < helpful.user_value


def test_evidence_names_the_words_that_sell():
    s = postlens.score("限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购")
    joined = " ".join(s.evidence)
    assert "限时" in joined or "抢购" in joined or "点击下方链接" in joined


def test_uncertain_when_the_post_says_little():
    s = postlens.score("hmm")
    assert s.uncertain == (max(s.probabilities.values()) < 0.5)


@pytest.mark.parametrize("bad, error", [
    (None, TypeError), (b"\xe4\xbd\xa0\xe5\xa5\xbd", TypeError), (42, TypeError), (4.2, TypeError),
    ("", ValueError), ("   \n ", ValueError),
])
def test_score_rejects_bad_input_clearly(bad, error):
    with pytest.raises(error, match="post"):
        postlens.score(bad)


@pytest.mark.parametrize("text", [
    "限时\ud800抢购\udfff，点击链接",          # lone surrogates
    "shop\x00 now\x1b[31m 50% off\x7f",       # control characters
    "🎉" * 50,                                # emoji only
    "？？？！！！",                             # punctuation only
    "<p>&nbsp;</p><br>",                      # HTML with no words
])
def test_odd_input_gives_a_defined_result(text):
    s = postlens.score(text)
    assert s.label in LABELS and math.isclose(sum(s.probabilities.values()), 1.0, abs_tol=1e-6)


def test_five_megabyte_post_is_scored():
    s = postlens.score("新品上市，限时抢购！" * 500_000)  # 5 MB of text
    assert s.label == "hard_ad"


def test_score_many_matches_score_and_keeps_order():
    texts = [t for ts in CLEAR.values() for t in ts]
    many = postlens.score_many(texts)
    assert [m.label for m in many] == [postlens.score(t).label for t in texts]
    for m, t in zip(many, texts):
        single = postlens.score(t)
        assert all(math.isclose(m.probabilities[k], single.probabilities[k], abs_tol=1e-6) for k in LABELS)


def test_score_many_names_the_bad_item():
    with pytest.raises(TypeError, match="post #2"):
        postlens.score_many(["ok post", "another", None])
    with pytest.raises(ValueError, match="post #1"):
        postlens.score_many(["ok post", " "])
    with pytest.raises(TypeError, match="list of posts"):
        postlens.score_many("a single string")
    assert postlens.score_many([]) == []


def test_score_many_accepts_a_pandas_series():
    pd = pytest.importorskip("pandas")
    series = pd.Series(CLEAR["community"], index=[10, 20, 30, 40])
    assert [s.label for s in postlens.score_many(series)] == ["community"] * 4


def test_explicit_model_and_thread_safety(model):
    results = {}

    def work(i):
        results[i] = postlens.score(CLEAR["service"][1], model=model if i % 2 else None).label

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {"service"}


def test_model_argument_takes_a_classifier_or_a_directory(tmp_path):
    shipped = postlens.default_model_path()
    by_path = postlens.score(CLEAR["service"][1], model=shipped)
    assert by_path == postlens.score(CLEAR["service"][1])
    assert postlens.score_many(["hello"], model=str(shipped))[0] == postlens.score("hello")
    with pytest.raises(postlens.ModelError, match="no such model directory"):
        postlens.score("hello", model=tmp_path / "missing")
    with pytest.raises(TypeError, match="model must be a fitted PostClassifier.*a model directory; got int"):
        postlens.score("hello", model=3)
    with pytest.raises(TypeError, match="model"):
        postlens.score("hello", model=postlens.PostClassifier())  # not fitted


def test_a_model_directory_is_read_again_when_it_changes(tmp_path):
    import json
    import os
    import shutil

    path = shutil.copytree(postlens.default_model_path(), tmp_path / "m")
    ad = "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购"
    assert postlens.score(ad, model=path).user_value == pytest.approx(10, abs=1)
    meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    meta["profile"]["labels"]["hard_ad"]["value"] = 60.0  # as retraining with another profile would
    (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    stamp = (path / "model.json").stat().st_mtime_ns + 10**9
    os.utime(path / "model.json", ns=(stamp, stamp))
    assert postlens.score(ad, model=path).user_value == pytest.approx(60, abs=5)


def test_assess_mix_and_findings():
    posts = CLEAR["hard_ad"] * 3 + CLEAR["service"][:2]  # 12 hard ads, 2 service posts
    report = postlens.assess(posts)
    assert report.n_posts == 14
    assert math.isclose(sum(report.mix.values()), 1.0)
    assert math.isclose(report.mix["hard_ad"], 12 / 14)
    messages = " ".join(f.message for f in report.findings)
    assert "hard ad posts are 86% of posts; the guideline caps them at 15%" in messages
    assert report.score < 30


def test_assess_accepts_scores_and_texts():
    scored = postlens.score_many(CLEAR["user_interest"])
    texts = CLEAR["community"] + CLEAR["service"]
    report = postlens.assess(scored + texts)
    labels = [s.label for s in scored] + [s.label for s in postlens.score_many(texts)]
    assert report.n_posts == 12
    assert report.mix == {label: pytest.approx(labels.count(label) / 12) for label in LABELS}
    assert report.score > 80  # only high-value posts


def test_assess_empty():
    report = postlens.assess([])
    assert report.n_posts == 0 and report.score == 0
    assert "no posts" in report.findings[0].message
    with pytest.raises(TypeError, match="a list of an account's posts; use score"):
        postlens.assess("one post, not a list")


@pytest.mark.parametrize("text", ["9", "a", "😂", "1 2", "#", "@x", "https://t.co/x"])
def test_tiny_posts_get_a_label(text):
    """Posts shorter than the longest n-gram, alone and in a batch, are labelled like any other."""
    alone = postlens.score(text)
    batch = postlens.score_many([text, "限时5折！点击链接立即抢购"])[0]
    assert alone.label in postlens.LABELS and abs(sum(alone.probabilities.values()) - 1) < 1e-6
    assert alone.probabilities == pytest.approx(batch.probabilities, abs=1e-6)


def test_labelling_does_not_import_scikit_learn():
    """scikit-learn is only for training and evaluating: scoring starts faster and lighter without it."""
    import subprocess
    import sys

    code = ("import sys, postlens; postlens.score('限时5折！点击下方链接立即抢购'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("value", ["2024-05-01", "2024/5/1", "2024.05.01", "2024年5月1日", "20240501", 20240501,
                                   1714521600, 1714521600000, "1714521600", "2024-05-01T00:00:00Z",
                                   "2024-05-01T08:00:00+08:00", "2024年5月1日 00:00"])
def test_dates_in_the_forms_exports_hold(value):
    """ISO, slashes, dots, Chinese dates, YYYYMMDD and Unix seconds or milliseconds all read as 1 May 2024 UTC."""
    from postlens.dates import to_weeks

    assert to_weeks(value) == pytest.approx(to_weeks(datetime.date(2024, 5, 1)))


@pytest.mark.parametrize("value", ["yesterday", 12, "2024-13-01", True, "2024年13月1日"])
def test_a_value_that_is_not_a_date_is_named(value):
    from postlens.dates import to_weeks

    with pytest.raises(ValueError, match=r"date .* at row 3 is not a date \(expected e\.g\."):
        to_weeks(value, "row 3")


# ---- issue 14, item 17: the Python API's rough edges ------------------------------------------
def test_score_many_refuses_a_whole_dataframe_and_names_the_column_to_pass():
    """Iterating a DataFrame gives its column names: score_many scored 'id' and 'text' as two posts."""
    import pandas as pd

    frame = pd.DataFrame({"id": [1, 2], "text": CLEAR["hard_ad"][:2]})
    with pytest.raises(TypeError, match=r"not a whole DataFrame \(its columns: 'id', 'text'\); pass the text "
                                        r"column, e.g. score_many\(df\['text'\]\)"):
        postlens.score_many(frame)
    with pytest.raises(TypeError, match="pass the text column"):
        postlens.score_many({"text": CLEAR["hard_ad"][:2]})
    with pytest.raises(TypeError, match=r"assess\(df\['text'\]\)"):
        postlens.assess(frame)
    assert [s.label for s in postlens.score_many(frame["text"])] == ["hard_ad", "hard_ad"]


def test_a_profile_name_or_path_is_taken_wherever_a_profile_is(tmp_path):
    """profile="ecommerce" raised AttributeError ('str' object has no attribute 'values')."""
    from importlib import resources

    import pandas as pd

    ecommerce = postlens.load_profile("ecommerce")
    post = CLEAR["hard_ad"][0]
    want = postlens.score(post, profile=ecommerce).user_value
    assert want != postlens.score(post).user_value  # the profile matters for this post
    assert postlens.score(post, profile="ecommerce").user_value == want
    toml = tmp_path / "mine.toml"
    toml.write_text(resources.files("postlens").joinpath("profiles", "ecommerce.toml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    assert postlens.score(post, profile=toml).user_value == want
    assert postlens.score(post, profile=str(toml)).user_value == want
    assert postlens.score_many([post], profile="ecommerce")[0].user_value == want
    assert postlens.assess([post], profile="ecommerce").profile == ecommerce.name
    assert postlens.label_batch({"text": [post]}, profile="ecommerce")["user_value"] == [want]
    assert postlens.label_frame(pd.DataFrame({"text": [post]}), profile="ecommerce")["user_value"].tolist() == [want]
    src = tmp_path / "posts.csv"
    src.write_text(f"id,text\n1,{post}\n", encoding="utf-8")
    assert [r["user_value"] for r in postlens.label_archive(src, profile="ecommerce")] == [want]
    postlens.label_file(src, tmp_path / "out.jsonl", profile="ecommerce")
    assert '"user_value":' + repr(want) in (tmp_path / "out.jsonl").read_text(encoding="utf-8").replace(" ", "")
    from postlens.report import build_report

    assert build_report(src, profile="ecommerce").overall.profile == ecommerce.name
    with pytest.raises(postlens.ProfileError, match="no such profile file .*shipped profiles: balanced"):
        postlens.score(post, profile="ecommerse")
    with pytest.raises(TypeError, match="profile must be a GuidelineProfile, a shipped profile's name"):
        postlens.score(post, profile=3)
