"""score_many's columnar result (PostScores): it behaves like a list of PostScore, builds them only when read,
and assess reads its arrays. (Correctness only: the speed itself is measured by bench/throughput.py.)"""
import math
import pickle
from collections.abc import Sequence

import numpy as np
import pytest

import postlens
from postlens import LABELS, PostScore
from postlens import api
from postlens.api import PostScores

TEXTS = [
    "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
    "@jamie Sorry about the delay — DM us your order number and we'll sort it out today.",
    "热烈祝贺我司荣获2023年度最佳雇主称号",
    "5 ways to make your morning coffee taste better (no fancy gear needed)",
    "评论区说说你最想去的城市，抽3位送出定制周边",
    "hmm",
    "오늘 하루도 수고 많으셨습니다! 여러분의 주말 계획은 무엇인가요?",
    "Which flavour should we bring back this winter? Vote below 👇",
]


@pytest.fixture(scope="module")
def scores():
    return postlens.score_many(TEXTS)


def close(a: PostScore, b: PostScore) -> bool:
    """Equal but for the last float32 bits of the probabilities (a batch sums in another order than one post)."""
    return (a.label, a.uncertain, a.language) == (b.label, b.uncertain, b.language) \
        and a.user_value == pytest.approx(b.user_value, abs=0.1) \
        and a.probabilities == pytest.approx(b.probabilities, abs=1e-6)


def test_it_is_a_sequence_of_post_scores(scores):
    assert isinstance(scores, PostScores) and isinstance(scores, Sequence)
    assert len(scores) == len(TEXTS)
    assert all(type(s) is PostScore for s in scores)
    assert [s.label for s in scores] == [scores[i].label for i in range(len(TEXTS))]
    assert scores[-1] == scores[len(TEXTS) - 1] and scores[np.int64(2)] == scores[2]
    assert list(reversed(scores)) == list(scores)[::-1]
    assert scores[3] in scores and scores.index(scores[3]) == 3
    with pytest.raises(IndexError, match="post #8 out of range"):
        scores[8]
    with pytest.raises(IndexError):
        scores[-9]
    assert "PostScores(8 posts: [PostScore(label='hard_ad'" in repr(scores)


def test_each_post_matches_score(scores):
    for text, s in zip(TEXTS, scores):
        single = postlens.score(text)
        assert close(s, single), text
        assert s.evidence == single.evidence
    assert postlens.score(TEXTS[0]) == postlens.score_many(TEXTS[:1])[0]  # the same batch of one: exactly equal
    assert all(close(a, b) for a, b in zip(scores, [postlens.score(t) for t in TEXTS]))


def test_equals_a_list_of_the_same_post_scores(scores):
    as_list = scores.tolist()
    assert type(as_list) is list and len(as_list) == len(TEXTS)
    assert scores == as_list and as_list == scores and scores == tuple(as_list)
    assert scores == postlens.score_many(TEXTS)
    assert scores != as_list[:-1] and scores != as_list[::-1] and scores != scores[1:]
    assert scores != "not scores" and scores != 3
    assert postlens.score_many([]) == [] and not postlens.score_many([])
    with pytest.raises(TypeError):
        hash(scores)


def test_columns(scores):
    assert scores.classes == tuple(str(c) for c in postlens.load_model().classes_) and set(scores.classes) == set(LABELS)
    assert scores.labels.tolist() == [s.label for s in scores]
    assert scores.probabilities.shape == (len(TEXTS), len(LABELS))
    assert np.allclose(scores.probabilities.sum(axis=1), 1, atol=1e-5)
    assert all(s.probabilities == dict(zip(scores.classes, row))
               for s, row in zip(scores, scores.probabilities.tolist()))
    assert scores.user_values.tolist() == [s.user_value for s in scores]
    assert scores.uncertain.dtype == bool and scores.uncertain.tolist() == [s.uncertain for s in scores]
    assert scores.languages.tolist() == [s.language for s in scores]
    assert scores.languages.tolist()[:2] == ["zh", "en"] and scores.languages[6] == "ko"
    assert type(scores[0].label) is str and type(scores[0].language) is str and type(scores[0].user_value) is float
    for column in (scores.labels, scores.probabilities, scores.user_values, scores.uncertain, scores.languages):
        with pytest.raises(ValueError, match="read-only"):
            column[0] = column[1]


def test_slices_positions_and_masks(scores):
    as_list = scores.tolist()
    for key in (slice(2, 5), slice(None, None, 2), slice(None, None, -1), slice(5, 2), slice(-3, None)):
        part = scores[key]
        assert isinstance(part, PostScores) and part == as_list[key]
        assert part.labels.tolist() == [s.label for s in as_list[key]]
        assert [s.evidence for s in part] == [s.evidence for s in as_list[key]]
    assert scores[[4, 0, 4]] == [as_list[4], as_list[0], as_list[4]]
    assert scores[np.array([1, -1])] == [as_list[1], as_list[-1]]
    assert scores[[]] == [] and scores[[]].probabilities.shape == (0, len(LABELS))
    mask = scores.labels == "hard_ad"
    assert scores[mask] == [s for s in as_list if s.label == "hard_ad"]
    assert scores[scores.uncertain] == [s for s in as_list if s.uncertain]
    with pytest.raises(IndexError, match="boolean mask of 2 entries for 8 posts"):
        scores[[True, False]]
    with pytest.raises(TypeError, match="PostScores takes"):
        scores["label"]
    with pytest.raises(TypeError, match="PostScores takes"):
        scores[[0.5, 1.5]]


def test_adding_gives_what_adding_lists_gives(scores):
    as_list = scores.tolist()
    both = scores + scores
    assert isinstance(both, PostScores) and both == as_list + as_list
    assert scores[:2] + ["a text"] == as_list[:2] + ["a text"]
    assert ["a text"] + scores[:2] == ["a text"] + as_list[:2]
    other = postlens.score_many(TEXTS[:2], profile="ecommerce")
    assert scores[:1] + other == as_list[:1] + other.tolist()


def test_to_dict_and_to_frame(scores):
    columns = ["label", *(f"p_{c}" for c in scores.classes), "user_value", "uncertain", "language"]
    d = scores.to_dict()
    assert list(d) == columns and all(len(v) == len(TEXTS) for v in d.values())
    assert d["label"] == [s.label for s in scores]
    assert d["p_hard_ad"] == [s.probabilities["hard_ad"] for s in scores]
    pd = pytest.importorskip("pandas")
    frame = scores.to_frame()
    assert list(frame.columns) == columns and len(frame) == len(TEXTS)
    assert frame["label"].tolist() == d["label"] and frame["language"].tolist() == d["language"]
    assert frame["uncertain"].dtype == bool and frame["p_service"].dtype == np.float64
    series = pd.Series(TEXTS, index=range(100, 100 + len(TEXTS)))
    from_series = postlens.score_many(series)
    assert from_series == scores
    assert from_series.to_frame(index=series.index).index.tolist() == series.index.tolist()
    empty = postlens.score_many([]).to_frame()
    assert list(empty.columns) == columns and len(empty) == 0


def test_no_post_score_is_built_until_one_is_read(monkeypatch):
    built = []

    class Counting(PostScore):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(api, "PostScore", Counting)
    scores = postlens.score_many(TEXTS * 50)
    scores.labels, scores.probabilities, scores.to_dict(), scores[10:20], scores[scores.uncertain]
    postlens.assess(scores)
    assert built == []
    scores[3]
    assert len(built) == 1


def test_batches_are_labelled_a_chunk_at_a_time_in_order(monkeypatch):
    texts = [t for _ in range(5) for t in TEXTS] + ["新品上市，限时抢购！" * 300]  # the last one 3,000 characters
    whole = postlens.score_many(texts)
    monkeypatch.setattr(api, "_CHUNK_ROWS", 3)
    monkeypatch.setattr(api, "_CHUNK_CHARS", 100)
    bounds = list(api._chunks(texts))
    assert bounds[0][0] == 0 and bounds[-1][1] == len(texts)
    assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:])) and all(0 < b - a <= 3 for a, b in bounds)
    assert all(sum(map(len, texts[a:b])) <= 100 or b - a == 1 for a, b in bounds)
    chunked = postlens.score_many(texts)
    assert len(chunked) == len(texts)
    assert chunked.labels.tolist() == whole.labels.tolist()
    assert np.allclose(chunked.probabilities, whole.probabilities, atol=1e-6)
    assert all(close(a, b) for a, b in zip(chunked, whole))


def test_iterating_a_long_batch_keeps_every_post():
    texts = [f"{t} #{i}" for i in range(700) for t in TEXTS[:7]]  # 4,900 posts: more than one block of 4,096
    scores = postlens.score_many(texts)
    built = list(scores)
    assert len(built) == len(texts) == len(scores)
    assert [s.label for s in built] == scores.labels.tolist()
    assert built[4500] == scores[4500] and built[-1] == scores[-1]


def test_score_still_returns_a_post_score():
    s = postlens.score(TEXTS[1])
    assert type(s) is PostScore and s.label == "service" and s.evidence
    assert math.isclose(sum(s.probabilities.values()), 1, abs_tol=1e-6)


@pytest.mark.parametrize("dates", [None, [f"2024-05-{d:02d}" for d in (9, 1, 3, 8, 2, 7, 4, 6)]])
def test_assess_reads_the_columns(scores, dates):
    from_texts = postlens.assess(TEXTS, dates=dates)
    for posts in (scores, scores.tolist(), scores[:4] + TEXTS[4:]):
        report = postlens.assess(posts, dates=dates)
        assert report.n_posts == len(TEXTS)
        assert report.mix == from_texts.mix
        assert report.score == pytest.approx(from_texts.score, abs=1e-9)
        assert report.expected_mix == pytest.approx(from_texts.expected_mix, abs=1e-9)
        assert [f.message for f in report.findings] == [f.message for f in from_texts.findings]
        assert [f.examples for f in report.findings] == [f.examples for f in from_texts.findings]
        assert report.recommendations == from_texts.recommendations


def test_assess_on_part_of_a_batch_and_on_none():
    ads = ["限时5折！点击下方链接立即抢购", "今晚8点直播间秒杀，库存有限，手慢无", "新品预售立减50元，戳链接下单",
           "买一送一仅限今天，快来抢购"]
    scores = postlens.score_many(["@sam Sorry about that, DM us your order number and we'll fix it today", *ads])
    report = postlens.assess(scores[scores.labels == "hard_ad"])
    assert report.n_posts == 4 and report.mix["hard_ad"] == 1.0
    empty = postlens.assess(postlens.score_many([]))
    assert empty.n_posts == 0 and empty.score == 0
    with pytest.raises(ValueError, match="got 5 posts but 2 dates"):
        postlens.assess(scores, dates=["2024-01-01", "2024-01-02"])


def test_a_result_can_be_pickled(scores):
    again = pickle.loads(pickle.dumps(scores[:3]))
    assert again == scores[:3] and again[0].evidence == scores[0].evidence
