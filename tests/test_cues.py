"""The vectorised cue matcher finds exactly what a plain reading of the cue lists finds."""
import json
import random
from pathlib import Path

import numpy as np
import pytest

from postlens import ngrams
from postlens.cues import CUES, Cue, _Lexicon, cue_values, match_cues, strip_cue_phrases
from postlens.text import normalize

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def _docs(k: int = 300) -> list[str]:
    rows = [json.loads(line) for f in sorted(CORPUS.glob("*.jsonl")) for line in f.read_text("utf-8").splitlines()]
    random.Random(7).shuffle(rows)
    extra = ["", "a", "😂", "@user hi", "$ 0", "0", "限时5折", "Sorry!!! 😂😂", "İstanbul SALE 50% off", "x" * 300]
    return [normalize(r["text"]) for r in rows[:k]] + [normalize(t) if t.strip() else t for t in extra]


def _token_strings(doc: str) -> list[str]:
    enc = ngrams.encode([doc])
    starts, ends = ngrams.tokens(enc)
    return ["".join(map(chr, enc.cp[s:e])) for s, e in zip(starts, ends)]


_PHRASES = [([(ph.startswith("^"), ngrams.feature_text(ph.lstrip("^"))) for ph in cue.chars],
             [(ph.startswith("^"), ph.endswith("*"), _token_strings(ph.strip("^*"))) for ph in cue.words])
            for cue in CUES]


def _reference(doc: str) -> np.ndarray:
    """Counts per cue by plain Python: substring search and token-list comparison."""
    ft = ngrams.feature_text(doc)
    toks = _token_strings(doc)
    out = np.zeros(len(CUES))
    for j, (chars, words_) in enumerate(_PHRASES):
        for at_start, p in chars:
            if at_start:
                out[j] += ft.startswith(p)
            else:
                i = ft.find(p)
                while i >= 0:  # overlapping occurrences
                    out[j] += 1
                    i = ft.find(p, i + 1)
        for at_start, prefix, words in words_:
            n = len(words)
            for i in range(len(toks) - n + 1):
                if at_start and i > 0:
                    break
                head, last = toks[i:i + n - 1], toks[i + n - 1]
                ok = head == words[:-1] and (last.startswith(words[-1]) if prefix else last == words[-1])
                out[j] += ok
    return out


def test_matcher_agrees_with_plain_reading():
    docs = _docs()
    got = match_cues(ngrams.encode(docs)).counts(len(docs))
    for i, doc in enumerate(docs):
        want = _reference(doc)
        diff = np.flatnonzero(got[i] != want)
        assert not len(diff), (doc, [(CUES[j].id, got[i, j], want[j]) for j in diff])


def test_matches_point_at_the_phrase_in_the_post():
    docs = ["限时5折！新品上市，点击链接立即抢购 ¥99", "@user Sorry about the delay, please DM us. ^JM"]
    enc = ngrams.encode(docs, positions=True)
    m = match_cues(enc)
    found = {(int(r), CUES[c].id, docs[r][enc.source[s]:enc.source[e]]) for r, c, s, e in zip(m.row, m.cue, m.start, m.end)}
    assert (0, "discount", "5折") in found
    assert (0, "price", "¥99") in found
    assert (0, "buy_call", "立即抢购") in found
    assert (1, "apology", "Sorry") in found
    assert (1, "contact_us", "DM") in found
    assert (1, "reply_to_customer", "@user") in found


def test_values_include_the_counted_cues():
    docs = ["@user Sorry about that, DM us your order number. ^JM", "Q3 revenue up 12% $KVRA", "短"]
    v = cue_values(docs, ngrams.encode(docs))
    col = {cue.id: j for j, cue in enumerate(CUES)}
    assert v[0, col["support_signoff"]] > 0 and v[1, col["support_signoff"]] == 0
    assert v[1, col["financials"]] > 0
    assert v[2, col["short_post"]] > 0 and v[0, col["long_post"]] == 0


def test_strip_cue_phrases_cuts_wording_not_form():
    out = strip_cue_phrases(["限时5折！新品上市，点击链接立即抢购", "@user Sorry, please DM us", "nothing to cut here"])
    assert "限时" not in out[0] and "抢购" not in out[0] and "5折" not in out[0]
    assert out[1].startswith("@user") and "Sorry" not in out[1]
    assert out[2] == "nothing to cut here"


def test_a_phrase_that_is_only_a_number_is_refused():
    with pytest.raises(ValueError, match="only a number"):
        _Lexicon([Cue("x", "x", chars=("618",))])
    with pytest.raises(ValueError, match="no words"):
        _Lexicon([Cue("x", "x", words=(" ",))])


def test_a_letter_that_lower_cases_to_two_does_not_shift_positions():
    """"İ" lower-cases to two characters; the feature text keeps it, so spans still map back."""
    out = strip_cue_phrases(["İstanbul flash SALE today", "限时5折！立即抢购"])
    assert out[0] == "İstanbul today" and "限时" not in out[1]
    assert ngrams.feature_text("İx SALE") == "İx sale"
