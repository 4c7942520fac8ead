"""The training corpus in data/: size, balance, schema, no duplicates, and its data card."""
import collections
import json
import re
import unicodedata

import numpy as np
import pytest
import scipy.sparse as sp

from postlens import LABELS
from postlens.corpus import read_labelled

from .conftest import CORPUS, ROOT

REGISTERS = {"tweet", "support_reply", "weibo", "weibo_reply", "wechat_title", "wechat_digest", "facebook",
             "linkedin", "instagram", "xiaohongshu", "community_group", "product_copy", "kakao_channel",
             "naver_blog", "app_notice"}


@pytest.fixture(scope="module")
def posts():
    return read_labelled([CORPUS])


def _key(text):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def test_schema(posts):
    for path in sorted(CORPUS.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            row = json.loads(line)
            assert set(row) == {"text", "label", "lang", "register"}, f"{path.name}:{n}"
            assert row["label"] in LABELS, f"{path.name}:{n}"
            assert row["lang"] in {"zh", "en", "ko"}, f"{path.name}:{n}"
            assert row["register"] in REGISTERS, f"{path.name}:{n}"


def test_size_and_balance(posts):
    assert len(posts) >= 4000
    per_label = collections.Counter(p.label for p in posts)
    assert min(per_label[label] for label in LABELS) >= 600, per_label
    per_lang = collections.Counter(p.lang for p in posts)
    assert per_lang["zh"] >= 0.4 * len(posts) and per_lang["en"] >= 0.4 * len(posts), per_lang
    assert per_lang["ko"] >= 100, per_lang


def test_no_exact_duplicates(posts):
    seen = {}
    for p in posts:
        k = _key(p.text)
        assert k not in seen, f"duplicate post: {p.text[:60]!r}"
        seen[k] = p


def test_no_near_duplicates(posts):
    """No pair of posts shares 70% or more of its character 5-grams (Jaccard)."""
    vocab, indptr, indices = {}, [0], []
    for p in posts:
        t = _key(p.text)
        grams = {t[i:i + 5] for i in range(max(1, len(t) - 4))}
        indices.extend(vocab.setdefault(g, len(vocab)) for g in grams)
        indptr.append(len(indices))
    x = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(posts), len(vocab)))
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = sp.triu(x @ x.T, k=1).tocoo()
    jaccard = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    bad = [(posts[a].text[:50], posts[b].text[:50]) for a, b, j in zip(inter.row, inter.col, jaccard) if j >= 0.7]
    assert not bad, f"{len(bad)} near-duplicate pairs, e.g. {bad[:3]}"


def test_data_card_counts_match(posts):
    """data/README.md states the counts per label and language; they must be the real ones."""
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    counts = collections.Counter((p.label, p.lang) for p in posts)
    for label in LABELS:
        row = next(line for line in card.splitlines() if line.startswith(f"| `{label}`"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert [int(c) for c in cells[1:5]] == [counts[(label, lang)] for lang in ("zh", "en", "ko")] + [
            sum(counts[(label, lang)] for lang in ("zh", "en", "ko"))], row
