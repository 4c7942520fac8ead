"""Retraining on in-house data: every validation message, custom label sets end to end, check-labels, suggest."""
import csv
import json
import random

import numpy as np
import pytest

import postlens
from postlens.cli import main
from postlens.corpus import DataError, read_labelled
from postlens.guidelines import GuidelineProfile, ProfileError, load_profile
from postlens.review import find_label_issues, suggest
from postlens.training import train

from .conftest import CORPUS


@pytest.fixture(scope="module")
def corpus():
    return read_labelled([CORPUS])


def sample(corpus, per_label, seed=0, labels=None):
    rng = random.Random(seed)
    out = []
    for label in labels or postlens.LABELS:
        mine = [p for p in corpus if p.label == label]
        out += rng.sample(mine, per_label)
    rng.shuffle(out)
    return out


def write_csv(path, rows, columns=("text", "label")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    return path


def problems_of(path, **kwargs):
    with pytest.raises(DataError) as info:
        train([path], None, compare=False, **kwargs)
    return str(info.value)


# ---- validation: every message names the file and rows, and nothing is trained ------------------
def test_unknown_labels_are_listed_with_rows_and_a_did_you_mean(corpus, tmp_path):
    rows = [(p.text, p.label) for p in sample(corpus, 12)]
    rows[1] = (rows[1][0], "hardad")
    rows[4] = (rows[4][0], "hardad")
    rows[6] = (rows[6][0], "硬广")
    rows[7] = (rows[7][0], "weather")
    message = problems_of(write_csv(tmp_path / "mine.csv", rows))
    assert "unknown label 'hardad' in mine.csv rows 2, 5; did you mean 'hard_ad'?" in message
    assert "unknown label '硬广' in mine.csv row 7; did you mean 'hard_ad'?" in message
    assert "unknown label 'weather' in mine.csv row 8 (labels: brand_news" in message
    assert "nothing was done" in message


def test_empty_text_and_missing_label_name_their_rows(corpus, tmp_path):
    rows = [(p.text, p.label) for p in sample(corpus, 12)]
    rows[2] = ("   ", rows[2][1])
    rows[9] = (rows[9][0], "")
    message = problems_of(write_csv(tmp_path / "mine.csv", rows))
    assert "mine.csv row 3: field 'text' is empty" in message
    assert "mine.csv row 10: no label (field 'label' is empty or not text)" in message


def test_conflicting_duplicates_are_reported_and_repeats_counted_once(corpus, tmp_path):
    posts = sample(corpus, 12)
    rows = [(p.text, p.label) for p in posts]
    other = next(label for label in postlens.LABELS if label != posts[0].label)
    rows.append(("  " + posts[0].text + " ", other))  # the same text after trimming, another label
    message = problems_of(write_csv(tmp_path / "mine.csv", rows))
    assert f"the same text has different labels in mine.csv row 1 ({posts[0].label!r}), mine.csv row 61 ({other!r})" \
        in message
    rows[-1] = (posts[0].text, posts[0].label)  # a plain repeat is not a problem
    _, report = train([write_csv(tmp_path / "ok.csv", rows)], None, compare=False)
    assert "1 repeated post (same text, same label) counted once" in report.notes
    assert report.cv.n_posts == 60


def test_too_few_posts_says_how_many_more(corpus, tmp_path):
    posts = sample(corpus, 12)
    drop = [p for p in posts if p.label == "community"][:9]
    rows = [(p.text, p.label) for p in posts if p not in drop]
    message = problems_of(write_csv(tmp_path / "mine.csv", rows))
    assert "label 'community' has 3 posts; at least 10 are needed: label 7 more" in message


@pytest.mark.parametrize("hold_out", [-5, 100, 150, 2.5])
def test_hold_out_is_a_percent(tmp_path, hold_out):
    path = write_csv(tmp_path / "mine.csv", [("a post", "service")])
    with pytest.raises(DataError, match=f"--hold-out is the percent .* 0 to 99; got {hold_out}"):
        train([path], None, hold_out=hold_out, compare=False)


def test_one_path_is_one_file_and_labels_must_be_a_list(corpus, tmp_path):
    path = write_csv(tmp_path / "mine.csv", [(p.text, p.label) for p in sample(corpus, 12)])
    model, report = train(str(path), None, compare=False, eval_data=path)  # one path each, not a list
    assert report.cv.n_posts == 60 and report.held_out["mine.csv"].n_posts == 60
    with pytest.raises(TypeError, match=r"labels must be a list of label names, e.g. \['promo', 'help'\]"):
        train([path], None, labels="promo,help", compare=False)


def test_all_problems_are_reported_together(corpus, tmp_path):
    """Rows that cannot be read and problems of the set as a whole come in one error, not one after the other."""
    posts = sample(corpus, 12)
    rows = [(p.text, p.label) for p in posts if p not in [q for q in posts if q.label == "community"][:4]]
    rows[0] = ("", rows[0][1])
    rows[1] = (rows[1][0], "servise")
    other = next(label for label in postlens.LABELS if label != rows[2][1])
    rows.append((rows[2][0], other))
    message = problems_of(write_csv(tmp_path / "mine.csv", rows))
    assert message.startswith("4 problems in the labelled data")
    assert "mine.csv row 1: field 'text' is empty" in message
    assert "unknown label 'servise' in mine.csv row 2; did you mean 'service'?" in message
    assert f"the same text has different labels in mine.csv row 3 ({rows[2][1]!r}), mine.csv row 57 ({other!r})" \
        in message
    assert "label 'community' has 8 posts; at least 10 are needed: label 2 more" in message


def test_columns_by_name_and_a_wrong_column_name(corpus, tmp_path):
    rows = [(str(i), p.text, p.label) for i, p in enumerate(sample(corpus, 12))]
    path = write_csv(tmp_path / "mine.csv", rows, columns=("id", "body", "category"))
    _, report = train([path], None, compare=False)  # body and category are found by name
    assert report.cv.n_posts == 60
    with pytest.raises(DataError, match=r"no column 'categroy' .*did you mean 'category'\?"):
        train([path], None, label_column="categroy", compare=False)
    with pytest.raises(DataError, match="no column 'txt'"):
        train([path], None, text_column="txt", compare=False)


def test_reads_jsonl_parquet_and_saved_datasets(corpus, tmp_path):
    import datasets

    posts = sample(corpus, 12)
    records = [{"content": p.text, "tag": p.label} for p in posts]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                      encoding="utf-8")
    ds = datasets.Dataset.from_list(records)
    ds.to_parquet(str(tmp_path / "a.parquet"))
    ds.save_to_disk(str(tmp_path / "saved"))
    for source in ("a.jsonl", "a.parquet", "saved"):
        got = read_labelled([tmp_path / source], postlens.LABELS, label_column="tag")
        assert [(p.text, p.label) for p in got] == [(p.text, p.label) for p in posts], source

    # A dataset whose labels are a ClassLabel: ids stored, names meant (-1 is the dataset's "no label").
    names = sorted(postlens.LABELS)
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    ids = [names.index(p.label) for p in posts]
    datasets.Dataset.from_dict({"text": [p.text for p in posts], "label": ids}, features=features) \
        .save_to_disk(str(tmp_path / "class_label"))
    got = read_labelled([tmp_path / "class_label"], postlens.LABELS)
    assert [(p.text, p.label) for p in got] == [(p.text, p.label) for p in posts]
    datasets.Dataset.from_dict({"text": [p.text for p in posts], "label": [-1] + ids[1:]}, features=features) \
        .save_to_disk(str(tmp_path / "unlabelled_row"))
    with pytest.raises(DataError, match=r"unlabelled_row row 1: no label"):
        read_labelled([tmp_path / "unlabelled_row"], postlens.LABELS)


# ---- custom label sets and profiles --------------------------------------------------------------
PROFILE = """
name = "helpdesk"
max_self_promotion = 0.2
self_promotion = ["promo"]

[labels.promo]
value = 5
max_share = 0.2

[labels.help]
value = 100
min_share = 0.3

[labels.chat]
value = 70
"""


def test_custom_label_set_end_to_end(corpus, tmp_path, capsys):
    mapping = {"hard_ad": "promo", "service": "help", "community": "chat"}
    posts = sample(corpus, 40, labels=list(mapping))
    data = write_csv(tmp_path / "mine.csv", [(p.text, mapping[p.label]) for p in posts])
    (tmp_path / "helpdesk.toml").write_text(PROFILE, encoding="utf-8")
    code = main(["train", str(data), "--labels", "promo,help,chat", "--profile", str(tmp_path / "helpdesk.toml"),
                 "--out", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert code == 0 and "cross-validation" in out and "the shipped model" not in out  # other labels: no comparison
    model = postlens.load_model(tmp_path / "m")
    assert sorted(model.classes_) == ["chat", "help", "promo"]

    ad = postlens.score("限时5折！点击下方链接立即抢购，今晚截止", model=model)
    assert ad.label == "promo" and set(ad.probabilities) == {"promo", "help", "chat"}
    expected = 5 * ad.probabilities["promo"] + 100 * ad.probabilities["help"] + 70 * ad.probabilities["chat"]
    assert ad.user_value == pytest.approx(expected, abs=0.06)  # the stored profile's values

    report = postlens.assess(["限时5折！点击下方链接立即抢购", "今晚8点直播间秒杀，库存有限，手慢无",
                              "@sam Sorry about that — DM us your order number and we'll fix it today."], model=model)
    assert set(report.mix) == {"promo", "help", "chat"} and report.profile == "helpdesk"
    assert report.mix["promo"] == pytest.approx(2 / 3)
    assert "max_self_promotion" in {f.rule for f in report.findings}


def test_repeated_label_names_are_named_and_a_profile_may_be_a_name(corpus, tmp_path, capsys):
    """Issue 14 item 17: `--labels a,a` said "needs at least two different labels"; profile="ecommerce"
    (a string) raised AttributeError."""
    data = write_csv(tmp_path / "mine.csv", [(p.text, p.label) for p in sample(corpus, 12)])
    with pytest.raises(DataError, match=r"--labels names 'hard_ad' more than once \(got \['hard_ad', 'hard_ad'\]\); "
                                        "give each label once"):
        train([data], None, labels=["hard_ad", "hard_ad"])
    assert main(["train", str(data), "--labels", "service,hard_ad,service,community,hard_ad",
                 "--out", str(tmp_path / "m")]) == 2
    assert "--labels names 'service', 'hard_ad' more than once" in capsys.readouterr().err
    with pytest.raises(DataError, match="needs at least two different labels"):
        train([data], None, labels=["hard_ad"])
    train([data], tmp_path / "m", profile="ecommerce", compare=False)
    assert postlens.load_model(tmp_path / "m").metadata_["profile"] == postlens.load_profile("ecommerce").to_dict()
    with pytest.raises(ProfileError, match="no such profile file"):
        train([data], None, profile="ecomerce", compare=False)


def test_custom_labels_need_a_profile_with_their_values(corpus, tmp_path):
    posts = sample(corpus, 12, labels=["hard_ad", "service"])
    data = write_csv(tmp_path / "mine.csv", [(p.text, {"hard_ad": "promo", "service": "help"}[p.label]) for p in posts])
    with pytest.raises(DataError, match=r"labels \['help', 'promo'\] are not codebook labels: .*--profile"):
        train([data], None, labels=["promo", "help"])
    partial = GuidelineProfile("p", {"promo": 5.0})
    with pytest.raises(DataError, match=r"gives no user value to \['help'\]"):
        train([data], None, labels=["promo", "help"], profile=partial)


@pytest.mark.parametrize("text, message", [
    ("name = 'x'\n[labels.a]\nvalue = 150\n", "labels.a.value: must be a user value from 0 to 100, not 150"),
    ("[labels.a]\nvalue = 50\nmax_share = 15\n", "labels.a.max_share: must be a share between 0 and 1"),
    ("[labels.a]\nvalue = 50\ncolour = 'red'\n", "labels.a.colour: unknown setting"),
    ("max_self_promo = 0.2\n[labels.a]\nvalue = 1\n", "max_self_promo: unknown setting"),
    ("[labels.a]\nvalue = 1\nmin_share = 0.5\nmax_share = 0.2\n", "labels.a: min_share 0.5 is above max_share 0.2"),
    ("self_promotion = ['b']\n[labels.a]\nvalue = 1\n", "self_promotion: 'b' is not one of the profile's labels"),
    ("name = 'x'\n", "labels: missing"),
    ("[labels.a\nvalue = 1\n", "not a valid TOML file"),
])
def test_malformed_profile_names_file_key_and_reason(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_unknown_profile_name_lists_the_shipped_ones():
    with pytest.raises(ProfileError, match="shipped profiles: .*balanced"):
        load_profile("nope")


# ---- the report, reproducibility, --base -------------------------------------------------------------
def test_report_compares_with_the_shipped_model_fold_by_fold(corpus, tmp_path):
    data = write_csv(tmp_path / "mine.csv", [(p.text, p.label) for p in sample(corpus, 15, seed=3)])
    model, report = train([data], tmp_path / "m")
    assert report.shipped is not None and report.shipped.n_posts == report.cv.n_posts == 75
    assert len(report.folds) == 3 and sum(n for n, _, _ in report.folds) == 75
    text = report.format()
    assert "3-fold cross-validation" in text and "the shipped model on the same posts" in text and "gain" in text
    meta = postlens.load_model(tmp_path / "m").metadata_
    assert meta["cross_validation"]["cross_validation"]["n_posts"] == 75
    assert meta["profile"]["name"] == "balanced" and meta["training_data"]["fit_posts"] == 75


def test_same_data_and_seed_give_the_same_model_byte_for_byte(corpus, tmp_path):
    data = write_csv(tmp_path / "mine.csv", [(p.text, p.label) for p in sample(corpus, 15, seed=4)])
    for name in ("a", "b"):
        train([data], tmp_path / name, compare=False)
    for file in ("weights.npz", "model.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    train([data], tmp_path / "c", compare=False, random_state=1)
    assert (tmp_path / "c" / "model.json").read_bytes() != (tmp_path / "a" / "model.json").read_bytes()


def test_base_mixes_in_the_shipped_corpus_with_own_posts_weighted_higher(tmp_path):
    rows = [("今天的直播抽奖规则：评论区留言你最想要的口味，抽3位送新品礼盒", "community"),
            ("Our Q3 results: revenue up 12%, and we opened 40 new stores", "brand_news")]
    data = write_csv(tmp_path / "mine.csv", rows)
    model, report = train([data], None, base=True, compare=False)
    assert any("each weighted" in n and "posts of the shipped corpus" in n for n in report.notes)
    assert report.cv.n_posts == 2  # the report is about the team's own posts


# ---- check-labels ----------------------------------------------------------------------------------
def test_find_label_issues_on_a_hand_made_case():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.85, 0.15]])
    given = np.array([0, 0, 1, 1, 1])  # the last is labelled 1 but looks like the 0s
    issues, suggested = find_label_issues(proba, given)
    assert issues.tolist() == [4] and suggested.tolist() == [0]


def test_check_labels_finds_deliberately_flipped_labels(corpus, tmp_path, capsys):
    posts = sample(corpus, 40, seed=5)
    rng = random.Random(7)
    flipped = set(rng.sample(range(len(posts)), 12))
    rows = []
    for i, p in enumerate(posts):
        label = rng.choice([x for x in postlens.LABELS if x != p.label]) if i in flipped else p.label
        rows.append((p.text, label))
    data = write_csv(tmp_path / "mine.csv", rows)
    assert main(["check-labels", str(data), "-o", str(tmp_path / "suspects.csv")]) == 0
    out = capsys.readouterr().out
    assert "rows whose label is probably wrong" in out and "with the shipped corpus" in out
    with open(tmp_path / "suspects.csv", encoding="utf-8") as f:
        suspects = list(csv.DictReader(f))
    assert list(suspects[0])[:4] == ["where", "label", "suggested", "confidence"]
    listed = [int(s["where"].rsplit(" ", 1)[1]) - 1 for s in suspects]
    assert len(set(listed) & flipped) >= 8, (listed, sorted(flipped))  # most flipped rows are found
    assert len(set(listed[:12]) & flipped) >= 7  # and they lead the list
    right = [s for s, i in zip(suspects, listed) if i in flipped and s["suggested"] == posts[i].label]
    assert len(right) >= 6  # the suggested label is usually the one the row had before it was flipped


# ---- suggest -----------------------------------------------------------------------------------------
def test_suggest_picks_uncertain_and_varied_posts(corpus, tmp_path, model, capsys):
    posts = sample(corpus, 30, seed=9)
    texts = [p.text for p in posts] + [posts[0].text + " 🔥" * k for k in range(1, 30)]  # near-copies of one post
    data = tmp_path / "unlabelled.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    picked = suggest(data, 10, model=model)
    assert len(picked) == 10 and len({p.row for p in picked}) == 10
    proba = model.predict_proba(texts)
    top2 = np.sort(proba, axis=1)[:, -2:]
    margins = top2[:, 1] - top2[:, 0]
    assert np.mean([p.margin for p in picked]) < np.median(margins)  # less sure than the typical post
    assert sum(p.row > 150 for p in picked) <= 2  # not ten copies of one post
    assert main(["suggest", str(data), "-n", "5", "-o", str(tmp_path / "next.csv")]) == 0
    with open(tmp_path / "next.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and all(r["label"] == "" and r["text"] for r in rows)
    assert {"row", "id", "model_guess", "model_confidence"} <= set(rows[0])
    assert picked.rejected == []


def test_suggest_names_the_rows_it_could_not_consider(corpus, tmp_path, model, capsys):
    data = tmp_path / "unlabelled.jsonl"
    lines = [json.dumps({"text": p.text}, ensure_ascii=False) for p in sample(corpus, 4, seed=3)]
    lines[2:2] = ['{"text": 5}', "[1, 2]", '{"text": "   "}']
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    picked = suggest(data, 50, model=model)
    assert len(picked) == 20 and 3 not in {p.row for p in picked}
    assert [(r.row, r.reason) for r in picked.rejected] == [
        (3, "field 'text' is a number, not text"), (4, "not a JSON object but a list"), (5, "field 'text' is empty")]
    assert main(["suggest", str(data), "-n", "5", "-o", str(tmp_path / "next.csv")]) == 0
    err = capsys.readouterr().err
    assert "3 rows without usable text were not considered (row 3: field 'text' is a number, not text; " in err


def test_suggest_never_overwrites_a_file_with_labels_typed_in(corpus, tmp_path, model, capsys, monkeypatch):
    """Issue 14 item 4: `suggest` without -o overwrote to_label.csv, labels typed in since and all."""
    from postlens.review import filled_labels

    data = tmp_path / "unlabelled.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": p.text}, ensure_ascii=False) + "\n"
                            for i, p in enumerate(sample(corpus, 3, seed=5))), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["suggest", str(data), "-n", "4"]) == 0
    assert filled_labels("to_label.csv") == 0
    assert main(["suggest", str(data), "-n", "4"]) == 0  # still blank: written again, as before
    assert "4 posts to label written to to_label.csv" in capsys.readouterr().err
    assert not (tmp_path / "to_label-2.csv").exists()
    # the user types a label in, as a spreadsheet saves it: a byte-order mark, semicolons, CRLF
    with open("to_label.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][rows[0].index("label")] = "hard_ad"
    typed = ("\ufeff" + "".join(";".join(f'"{c}"' for c in r) + "\r\n" for r in rows)).encode("utf-8")
    (tmp_path / "to_label.csv").write_bytes(typed)
    assert filled_labels("to_label.csv") == 1
    assert main(["suggest", str(data), "-n", "1"]) == 0
    err = capsys.readouterr().err
    assert "to_label.csv has 1 label filled in: not overwritten; writing to to_label-2.csv instead" in err
    assert "1 post to label written to to_label-2.csv" in err
    assert (tmp_path / "to_label.csv").read_bytes() == typed
    with open("to_label-2.csv", encoding="utf-8") as f:
        assert [r["label"] for r in csv.DictReader(f)] == [""]
    # -o naming a file with labels in it is refused before any work, and the file is untouched
    assert main(["suggest", str(data), "-o", "to_label.csv"]) == 2
    err = capsys.readouterr().err
    assert "to_label.csv has 1 label filled in; postlens suggest never overwrites it: give another -o FILE" in err
    assert (tmp_path / "to_label.csv").read_bytes() == typed
    # JSONL and Parquet outputs too; a file that is not a table with a label column may hold labels
    (tmp_path / "mine.jsonl").write_text('{"text": "a", "label": ""}\n{"text": "b", "label": "service"}\n')
    assert filled_labels(tmp_path / "mine.jsonl") == 1
    assert main(["suggest", str(data), "-o", "mine.jsonl"]) == 2
    assert main(["suggest", str(data), "-n", "2", "-o", "picks.parquet"]) == 0
    assert filled_labels("picks.parquet") == 0
    (tmp_path / "notes.csv").write_text("what,who\nbuy beans,Ann\n")
    assert filled_labels(tmp_path / "notes.csv") is None
    assert main(["suggest", str(data), "-o", "notes.csv"]) == 2
    assert "cannot be read as a table with a 'label' column" in capsys.readouterr().err


def test_own_posts_get_a_model_of_their_own():
    """With ``own`` marked, a team's few posts move the model more than the same posts mixed in."""
    others = ([(f"限时折扣 新品上市 第{i}波 立即抢购", "hard_ad") for i in range(12)]
              + [(f"请私信订单号 我们帮您查询 第{i}单", "service") for i in range(12)]
              + [(f"会员日 全场满减 第{i}场", "hard_ad") for i in range(6)])
    own = ([(f"会员日 积分怎么查 第{i}问", "service") for i in range(4)]
           + [(f"新品 到手价 第{i}件", "hard_ad") for i in range(4)])
    texts, labels = zip(*(others + own))
    mine = [False] * len(others) + [True] * len(own)
    probe = postlens.normalize("会员日 第9场")

    def lean_to_service(model):  # margin of service over hard ad
        margins = model.decision_function_normalized([probe])[0]
        return margins[list(model.classes_).index("service")] - margins[list(model.classes_).index("hard_ad")]

    def fit(**kw):
        return postlens.PostClassifier(calibration_folds=2, min_df=1).fit(texts, labels, **kw)

    plain, blended = fit(), fit(own=mine)
    assert lean_to_service(blended) > lean_to_service(plain) + 0.2  # -0.60 against -0.93 when written
    # Own posts without every label: one model on all posts, as without ``own``.
    lacking = [m and label == "service" for m, label in zip(mine, labels)]
    assert (fit(own=lacking).coef_ != plain.coef_).nnz == 0
    # One own post of a label: the calibration fold that holds it out is not blended; the rest is.
    one_ad = [m and (label == "service" or text.endswith("第0件")) for m, label, text in zip(mine, labels, texts)]
    assert (fit(own=one_ad).coef_ != plain.coef_).nnz > 0
    with pytest.raises(ValueError, match="own-post flags"):
        postlens.PostClassifier().fit(["a", "b"], ["hard_ad", "service"], own=[True])
