"""Features of a normalised post, as composable scikit-learn transformers.

- :class:`CharNgrams` — hashed character n-grams (the workhorse for Chinese and Korean,
  and robust to hashtags and typos in English);
- :class:`WordNgrams` — hashed word n-grams for space-delimited languages, from spaCy's
  blank multi-language tokenizer (no pipeline download);
- :class:`CueFeatures` — one column per codebook cue in :mod:`postlens.cues`;
- :class:`PostFeatures` — the three side by side, each block weighted.

All transformers take texts already passed through :func:`postlens.text.normalize`, and are
stateless except for the IDF weights learned in ``fit``; training and labelling call the same
``transform``, so they build identical features. Learned state is plain numpy arrays
(:meth:`PostFeatures.get_state` / :meth:`PostFeatures.from_state`), never pickles.
"""
from __future__ import annotations

import re
import threading
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import FeatureHasher
from sklearn.preprocessing import normalize as l2_normalize

from .cues import CUES

__all__ = ["CharNgrams", "WordNgrams", "CueFeatures", "PostFeatures", "feature_text"]

_DIGIT = re.compile(r"\d")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")


def feature_text(text: str) -> str:
    """The form n-grams are cut from: lower case, every digit written as ``0``, one line, no links.

    The ``<url>`` placeholder is blanked: nearly every real post carries a link, whatever its
    label, so a link is no evidence. Keeps the length of ``text`` for almost all input, so
    n-gram positions map back to it.
    """
    return _DIGIT.sub("0", text.replace("\n", " ").replace("<url>", "     ").lower())


class _HashedNgrams(TransformerMixin, BaseEstimator):
    """Shared machinery: n-gram strings → hashed counts → sublinear TF × IDF → L2 rows."""

    n_features: int

    def _analyze_all(self, texts: Sequence[str]) -> Iterable[list[str]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _hasher(self) -> FeatureHasher:
        return FeatureHasher(n_features=self.n_features, input_type="string", alternate_sign=False,
                             dtype=np.float32)

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw hashed n-gram counts (stateless)."""
        return self._hasher().transform(self._analyze_all(texts)).tocsr()

    def hash_grams(self, grams: Sequence[str]) -> np.ndarray:
        """Column index of each n-gram string (used to explain a prediction)."""
        if not grams:
            return np.zeros(0, dtype=np.int64)
        return self._hasher().transform([[g] for g in grams]).tocsr().indices.astype(np.int64)

    def fit_counts(self, counts: sp.csr_matrix) -> "_HashedNgrams":
        """Learn IDF weights from :meth:`counts` of the training texts.

        An n-gram found in fewer than ``min_df`` training posts gets weight 0: one writer's
        turn of phrase is not evidence about a label.
        """
        df = np.bincount(counts.indices, minlength=self.n_features)
        idf = np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0
        self.idf_ = np.where(df >= self.min_df, idf, 0.0).astype(np.float32)
        return self

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear TF × IDF, each row scaled to unit length."""
        x = counts.astype(np.float32, copy=True)
        np.log(x.data, out=x.data)
        x.data += 1.0
        x = x.multiply(self.idf_).tocsr()
        return l2_normalize(x, copy=False)

    def fit(self, texts: Sequence[str], y: object = None) -> "_HashedNgrams":
        return self.fit_counts(self.counts(texts))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weigh(self.counts(texts))


class CharNgrams(_HashedNgrams):
    """Hashed character n-grams of :func:`feature_text` (works without word boundaries)."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), n_features: int = 2**20, min_df: int = 2):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def _analyze_all(self, texts: Sequence[str]) -> Iterable[list[str]]:
        return ([g for g, _, _ in self.spans(t)] for t in texts)

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """``(gram, start, end)`` for every n-gram, positions in ``feature_text(text)``.

        N-grams of digits and spaces alone ("0000") are left out: a number says nothing about
        a label, the words around it ("元", "折", "% off", "周年") do.
        """
        t = feature_text(text)
        lo, hi = self.ngram_range
        return [(t[i:i + n], i, i + n) for n in range(lo, hi + 1) for i in range(len(t) - n + 1)
                if t[i:i + n].strip("0 ")]


_TOKENIZER = threading.local()


def _tokenizer():
    """spaCy's blank multi-language tokenizer, one per thread (its cache is not thread-safe)."""
    tok = getattr(_TOKENIZER, "tok", None)
    if tok is None:
        import spacy

        tok = _TOKENIZER.tok = spacy.blank("xx").tokenizer
    return tok


class WordNgrams(_HashedNgrams):
    """Hashed word n-grams from spaCy's blank tokenizer; Chinese runs are left to characters."""

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), n_features: int = 2**20, min_df: int = 2):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def grams(self, text: str) -> list[str]:
        """The word n-grams of one text, as :meth:`transform` counts them."""
        return self._grams(_tokenizer()(feature_text(text)))

    def _grams(self, doc) -> list[str]:
        toks = [t.text for t in doc if not t.is_space and not _HAN.search(t.text)]
        lo, hi = self.ngram_range
        return [" ".join(toks[i:i + n]) for n in range(lo, hi + 1) for i in range(len(toks) - n + 1)]

    def _analyze_all(self, texts: Sequence[str]) -> Iterable[list[str]]:
        return (self._grams(doc) for doc in _tokenizer().pipe(feature_text(t) for t in texts))


class CueFeatures(TransformerMixin, BaseEstimator):
    """One column per codebook cue: ``log1p`` of how often the cue occurs in the post."""

    def fit(self, texts: Sequence[str], y: object = None) -> "CueFeatures":
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        out = np.zeros((len(texts), len(CUES)), dtype=np.float32)
        for i, text in enumerate(texts):
            for j, cue in enumerate(CUES):
                n = len(cue.pattern.findall(text))
                if n:
                    out[i, j] = np.log1p(n)
        return sp.csr_matrix(out)


class PostFeatures(TransformerMixin, BaseEstimator):
    """Character n-grams, word n-grams and cues side by side, each block scaled by its weight.

    Column layout: ``[char | word | cue]``, ``n_features`` columns each for char and word n-grams.
    """

    def __init__(self, char_ngrams: tuple[int, int] = (1, 4), word_ngrams: tuple[int, int] = (1, 2),
                 n_features: int = 2**20, min_df: int = 2, char_weight: float = 1.0, word_weight: float = 0.7,
                 cue_weight: float = 0.4):
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.n_features = n_features
        self.min_df = min_df
        self.char_weight = char_weight
        self.word_weight = word_weight
        self.cue_weight = cue_weight

    def _blocks(self) -> None:
        self.char_ = CharNgrams(self.char_ngrams, self.n_features, self.min_df)
        self.word_ = WordNgrams(self.word_ngrams, self.n_features, self.min_df)
        self.cues_ = CueFeatures()

    def counts(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        """The stateless part: raw char counts, word counts and cue values of ``texts``."""
        if not hasattr(self, "char_"):
            self._blocks()
        texts = list(texts)
        return self.char_.counts(texts), self.word_.counts(texts), self.cues_.transform(texts)

    def fit_counts(self, counts: tuple[sp.csr_matrix, ...]) -> "PostFeatures":
        """Learn the IDF weights from :meth:`counts` (lets cross-validation count only once)."""
        self._blocks()
        self.char_.fit_counts(counts[0])
        self.word_.fit_counts(counts[1])
        return self

    def weigh(self, counts: tuple[sp.csr_matrix, ...]) -> sp.csr_matrix:
        """Turn :meth:`counts` into the feature matrix ``[char | word | cue]``."""
        char, word, cue = counts
        return sp.hstack([
            self.char_.weigh(char) * self.char_weight,
            self.word_.weigh(word) * self.word_weight,
            cue * self.cue_weight,
        ], format="csr", dtype=np.float32)

    def fit(self, texts: Sequence[str], y: object = None) -> "PostFeatures":
        return self.fit_counts(self.counts(texts))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weigh(self.counts(texts))

    @property
    def n_columns(self) -> int:
        return 2 * self.n_features + len(CUES)

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Parameters (JSON-safe) and learned arrays, for saving without pickle."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        return {**params, "cues": [cue.id for cue in CUES]}, {"char_idf": self.char_.idf_, "word_idf": self.word_.idf_}

    @classmethod
    def from_state(cls, params: dict, arrays: dict[str, np.ndarray]) -> "PostFeatures":
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        cues = params.pop("cues", None)
        if cues != tuple(cue.id for cue in CUES):
            raise ValueError("the model was built with a different set of cues than this postlens has; "
                             "use the postlens version that built it, or retrain")
        self = cls(**params)
        self._blocks()
        for block, key in ((self.char_, "char_idf"), (self.word_, "word_idf")):
            idf = np.asarray(arrays[key], dtype=np.float32)
            if idf.shape != (self.n_features,):
                raise ValueError(f"{key} has shape {idf.shape}, expected ({self.n_features},)")
            block.idf_ = idf
        return self
