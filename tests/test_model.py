"""The shipped model: reproducible from data/, metadata, safe loading."""
import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest
import sklearn

import postlens
from postlens import LABELS, ModelError
from postlens.corpus import data_sha256
from postlens.training import train

from .conftest import CORPUS

PROBE = [
    "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购", "@jamie Sorry about the delay — DM us your order number.",
    "热烈祝贺我司荣获2023年度最佳雇主称号", "立春将至，3个小动作唤醒满屋绿植", "Which flavour should we bring back? 👇",
    "오늘부터 전 메뉴 20% 할인! 앱에서 주문하세요", "Store hours change for the holidays: we close at 4pm on 24 Dec.",
]


def test_metadata(model):
    meta = model.metadata_
    assert meta["postlens_version"] == postlens.__version__
    assert meta["sklearn_version"].count(".") >= 1  # the version that built it, recorded
    assert meta["labels"] == sorted(LABELS)
    assert meta["evaluation"]["test_split"]["macro_f1"] > 0.5


def test_shipped_model_is_built_from_the_current_corpus(model):
    """If this fails, data/ changed: rebuild with `postlens train data/corpus --out models/postlens-base ...`."""
    assert model.metadata_["training_data"]["sha256"] == data_sha256([CORPUS])


def test_shipped_model_is_small():
    size = sum(f.stat().st_size for f in postlens.default_model_path().iterdir())
    assert size < 30 * 2**20


def test_rebuilding_from_data_gives_the_same_model(model, tmp_path):
    rebuilt, _ = train([CORPUS], tmp_path / "m", hold_out=10)
    assert np.allclose(rebuilt.predict_proba(PROBE), model.predict_proba(PROBE), atol=1e-6)
    shipped = (postlens.default_model_path() / "weights.npz").read_bytes()
    assert (tmp_path / "m" / "weights.npz").read_bytes() == shipped
    meta = postlens.load_model(tmp_path / "m").metadata_
    assert meta["sklearn_version"] == sklearn.__version__
    assert meta["training_data"]["sha256"] == model.metadata_["training_data"]["sha256"]


def _copy(tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(postlens.default_model_path(), dst)
    return dst


def test_load_missing_or_foreign_directory(tmp_path):
    with pytest.raises(ModelError, match="no such model directory"):
        postlens.load_model(tmp_path / "nope")
    with pytest.raises(ModelError, match="not a postlens model"):
        postlens.load_model(tmp_path)
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="is a file, not a model directory"):
        postlens.load_model(tmp_path / "model.json")


def test_load_refuses_tampered_weights(tmp_path):
    path = _copy(tmp_path)
    blob = bytearray((path / "weights.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (path / "weights.npz").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="checksum"):
        postlens.load_model(path)


class Payload:
    ran = False

    def __reduce__(self):
        return (setattr, (Payload, "ran", True))


def test_load_refuses_a_pickle_even_with_matching_checksum(tmp_path):
    path = _copy(tmp_path)
    blob = pickle.dumps({"coef": Payload()})
    (path / "weights.npz").write_bytes(blob)
    meta = json.loads((path / "model.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError):
        postlens.load_model(path)
    assert Payload.ran is False


def test_load_refuses_a_newer_format(tmp_path):
    path = _copy(tmp_path)
    meta = json.loads((path / "model.json").read_text())
    meta["format_version"] = 99
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="newer postlens"):
        postlens.load_model(path)


def test_load_says_a_missing_format_version_is_missing(tmp_path):
    """Issue 14 item 17: a model.json without format_version was said to be "written by a newer postlens"."""
    path = _copy(tmp_path)
    meta = json.loads((path / "model.json").read_text())
    del meta["format_version"]
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="model.json: format_version is missing .*damaged or was modified") as info:
        postlens.load_model(path)
    assert "newer" not in str(info.value)
    for bad in ("1", 0, -3, True, None, 1.5):
        meta["format_version"] = bad
        (path / "model.json").write_text(json.dumps(meta))
        with pytest.raises(ModelError, match=f"format_version {bad!r} is not a model format"):
            postlens.load_model(path)


def test_evidence_phrases_are_capped(model):
    """Issue 14 item 17: the evidence for a 10-million-character post held one 20,013-character "phrase"."""
    from postlens.model import MAX_EVIDENCE_CHARS, _capped

    for text in ("Big sale today, shop now " + "a" * 10_000_000, "限时抢购" + "买" * 10_000_000,
                 "Supercalifragilisticexpialidociousness " * 3 + "#" + "deal" * 5000):
        evidence = postlens.score(text).evidence
        assert evidence
        for line in evidence:
            quoted = line.split('"')[1] if '"' in line else ""
            assert len(quoted) <= MAX_EVIDENCE_CHARS, line
    assert any(line.endswith('…"') for line in postlens.score("sale " + "a" * 10_000_000).evidence)
    assert _capped("word " * 11 + "longer words here") == "word word word word word word word word word word word…"
    assert _capped("买" * 100) == "买" * (MAX_EVIDENCE_CHARS - 1) + "…"
    assert _capped("a" * MAX_EVIDENCE_CHARS) == "a" * MAX_EVIDENCE_CHARS


def test_counting_in_batches_gives_the_same_counts(monkeypatch):
    """Training counts n-grams in batches of characters (issue 14 item 12: memory); the counts, and so
    the model's bytes, are those of counting everything at once."""
    import postlens.features
    from postlens.corpus import read_labelled
    from postlens.features import PostFeatures
    from postlens.text import normalize_many

    docs = normalize_many([p.text for p in read_labelled([CORPUS])][:3000])
    whole = PostFeatures().counts(docs)
    monkeypatch.setattr(postlens.features, "COUNT_BATCH_CHARS", 5000)
    batched = PostFeatures().counts(docs)
    for a, b in zip(whole, batched):
        assert a.shape == b.shape and a.dtype == b.dtype and a.indices.dtype == b.indices.dtype
        for x, y in ((a.data, b.data), (a.indices, b.indices), (a.indptr, b.indptr)):
            assert np.array_equal(x, y)


def test_fit_rejects_mismatched_input():
    with pytest.raises(ValueError, match="texts but"):
        postlens.PostClassifier().fit(["a", "b"], ["hard_ad"])
    with pytest.raises(ValueError, match=", 1 groups"):
        postlens.PostClassifier().fit(["a", "b"], ["hard_ad", "service"], groups=["f1"])
    with pytest.raises(ValueError, match="two different labels"):
        postlens.PostClassifier().fit(["a", "b"], ["hard_ad", "hard_ad"])


def test_too_few_posts_per_label_is_a_clear_error():
    texts = [f"sale {i}% off today" for i in range(6)] + ["sorry, DM us", "please DM us your order"]
    labels = ["hard_ad"] * 6 + ["service"] * 2
    with pytest.raises(ValueError, match="'service' has 2"):
        postlens.PostClassifier().fit(texts, labels)


def test_two_label_model_gives_two_probabilities():
    ads = ["限时5折抢购", "shop now 40% off", "新品上市立即购买", "buy one get one free today", "秒杀价99元",
           "pre-order now for $89", "link in bio to shop", "满199减30"]
    help_ = ["您好，请提供订单号", "sorry, please DM us", "系统维护通知", "restart the app and try again",
             "营业时间调整通知", "our outage is fixed now", "请您先到设置中清除缓存", "reply with your booking number"]
    model = postlens.PostClassifier(calibration_folds=2, min_df=1).fit(ads + help_, ["hard_ad"] * 8 + ["service"] * 8)
    proba = model.predict_proba(["今日特价，立即抢购", "please DM us your order number"])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.predict(["今日特价，立即抢购", "please DM us your order number"])) == ["hard_ad", "service"]


def test_training_and_labelling_build_the_same_features(model):
    """The features training fits on (counts, then weigh) equal what labelling computes, and the
    labelling shortcut (scores without a feature matrix) equals the matrix product."""
    from postlens.text import normalize_many

    rows = [json.loads(line) for f in sorted(CORPUS.glob("*.jsonl"))[::7]
            for line in f.read_text(encoding="utf-8").splitlines()[:20]]
    docs = normalize_many([r["text"] for r in rows] + ["9", "😂", "a b"])
    feats = model.features_
    trained = feats.weigh(feats.counts(docs))
    labelled = feats.transform(docs)
    trained.sum_duplicates()
    labelled.sum_duplicates()
    assert abs(trained - labelled).max() < 1e-6
    direct = model.decision_function_normalized(docs)
    via_matrix = np.asarray(labelled @ model._weights) + model.intercept_
    assert np.abs(direct - via_matrix).max() < 1e-4


def test_shipped_model_carries_the_shipped_balanced_profile(model):
    """If this fails, profiles/balanced.toml changed: rebuild the model (README, "The shipped model")."""
    from postlens.guidelines import load_profile

    assert model.metadata_["profile"] == load_profile("balanced").to_dict()
