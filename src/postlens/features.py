"""Features of a normalised post, as composable scikit-learn transformers.

- :class:`CharNgrams` — hashed character n-grams (the workhorse for Chinese and Korean,
  and robust to hashtags and typos in English);
- :class:`WordNgrams` — hashed word n-grams for space-delimited languages;
- :class:`CueFeatures` — one column per codebook cue in :mod:`postlens.cues`;
- :class:`PostFeatures` — the three side by side, each block weighted.

All of them hash a whole batch at once with :mod:`postlens.ngrams` (no per-post Python
loop), and training and labelling call the same code, so they build identical features.
N-gram values are term frequency × IDF, scaled so that a post's squared values sum to 1
when each n-gram occurs once (precisely: divided by the root of Σ tf·idf², which needs no
counting of repeats and so is as fast at labelling time as at training time). Learned state is
plain numpy arrays (:meth:`PostFeatures.get_state` / :meth:`PostFeatures.from_state`), never pickles.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from . import ngrams
from .cues import CUES, cue_values
from .estimator import Estimator
from .ngrams import Encoded, feature_text

__all__ = ["CharNgrams", "WordNgrams", "CueFeatures", "PostFeatures", "feature_text", "Grams"]

_CHAR_SALT, _WORD_SALT = 0, 100
#: Characters :meth:`PostFeatures.counts` hashes at a time (bounds its memory: about 170 MB beyond the counts).
COUNT_BATCH_CHARS = 2**21
_ROLL, _MIX32 = np.uint32(0x01000193), np.uint32(0x9E3779B1)  # FNV prime; golden-ratio multiplier

Grams = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(row, column, start, end)`` of every n-gram of a batch, in row order; start/end index its code points."""


def _bits(n_features: int) -> int:
    bits = int(n_features).bit_length() - 1
    if n_features < 2 or 1 << bits != n_features:
        raise ValueError(f"n_features must be a power of two, got {n_features}")
    return bits


def _ordered(at: list[np.ndarray], valid: list[np.ndarray], hashes: list[np.ndarray], ends: list[np.ndarray]):
    """Interleave n-grams of several lengths that start at the same positions, keeping position order."""
    keep = np.stack(valid, axis=1).ravel()
    pick = lambda arrays: np.stack(arrays, axis=1).ravel()[keep]  # noqa: E731
    return pick(at), pick(hashes), pick(ends)


class _HashedNgrams(Estimator):
    """Shared machinery: hashed n-gram counts → TF × IDF → rows scaled to unit length."""

    n_features: int
    min_df: int

    def grams(self, enc: Encoded) -> Grams:  # pragma: no cover - abstract
        raise NotImplementedError

    def occurrences(self, enc: Encoded) -> sp.csr_matrix:
        """One entry of 1 per n-gram occurrence (repeats not summed; products are the same)."""
        col, per_post = self.columns(enc)
        return sp.csr_matrix((np.ones(len(col), dtype=np.float32), col, np.concatenate(([0], np.cumsum(per_post)))),
                             shape=(enc.n_posts, self.n_features))

    def counts(self, enc: Encoded) -> sp.csr_matrix:
        """Raw hashed n-gram counts (stateless), repeats summed."""
        x = self.occurrences(enc)
        x.sum_duplicates()
        return x

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
        """TF × IDF of :meth:`counts`, each row divided by the root of its Σ tf·idf²."""
        x = counts.tocsr().astype(np.float32, copy=True)  # one copy (astype(...).tocsr(copy=True) made two)
        idf = self.idf_[x.indices]
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        norm2 = np.bincount(rows, weights=x.data * idf * idf, minlength=x.shape[0])
        scale = np.zeros(x.shape[0], dtype=np.float32)
        scale[norm2 > 0] = 1.0 / np.sqrt(norm2[norm2 > 0])
        x.data *= idf * scale[rows]
        return x

    def weighted(self, enc: Encoded) -> sp.csr_matrix:
        """``weigh(counts(enc))`` without summing repeats first (one entry per occurrence)."""
        return self.weigh(self.occurrences(enc))

    def columns(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Column of every n-gram of the batch, in row order, and how many each post has."""
        row, col, _, _ = self.grams(enc)
        return col, np.bincount(row, minlength=enc.n_posts)

    def table(self, weights: np.ndarray) -> np.ndarray:
        """``[idf × weights | idf²]`` per column, and a last row of zeros: what :meth:`scores` sums."""
        table = np.zeros((self.n_features + 1, weights.shape[1] + 1), dtype=np.float32)
        table[:-1, :-1] = self.idf_[:, None] * weights
        table[:-1, -1] = self.idf_ ** 2
        return table

    def sums(self, enc: Encoded, table: np.ndarray) -> np.ndarray:
        """``occurrences(enc) @ table``: each post's sum of the table rows of its n-grams."""
        return self.occurrences(enc) @ table[:-1]

    def scores(self, enc: Encoded, table: np.ndarray) -> np.ndarray:
        """``weighted(enc) @ weights`` for ``table = self.table(weights)``, without weighing a matrix."""
        sums = self.sums(enc, table)
        norm = np.sqrt(sums[:, -1:])
        return np.divide(sums[:, :-1], norm, out=np.zeros_like(sums[:, :-1]), where=norm > 0)

    def fit(self, texts: Sequence[str], y: object = None) -> "_HashedNgrams":
        return self.fit_counts(self.counts(ngrams.encode(texts)))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weighted(ngrams.encode(texts))


class CharNgrams(_HashedNgrams):
    """Hashed character n-grams of the feature text (works without word boundaries).

    N-grams of digits and spaces alone ("0", "0 0") are left out: a number says nothing about
    a label; the words around it ("元", "折", "% off", "周年") do.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 4), n_features: int = 2**18, min_df: int = 2):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def _kept(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Column of every window, one row per position and one column per length, and which are n-grams.

        Windows are hashed with 32-bit arithmetic straight from the code points (a rolling
        polynomial), which is all 2**18 columns need and twice as fast as the 64-bit span hashes.
        """
        lo, hi = self.ngram_range
        size = len(enc.cp)
        cp = enc.cp.astype(np.uint32)
        content = (cp != ngrams.ZERO) & (cp != ngrams.SPACE)
        room = enc.room
        cols = np.zeros((size, hi - lo + 1), dtype=np.uint32)
        valid = np.zeros((size, hi - lo + 1), dtype=bool)
        has = content.copy()  # has[i]: the window of the current length at i holds a non-digit, non-space
        h = cp.copy()  # h[i]: rolling hash of the window of the current length at i
        shift = np.uint32(32 - _bits(self.n_features))
        for n in range(1, hi + 1):
            if n > 1 and size >= n:
                has[: size - n + 1] |= content[n - 1:]
                h[: size - n + 1] = h[: size - n + 1] * _ROLL + cp[n - 1:]
            if n >= lo:
                valid[:, n - lo] = (room >= n) & has
                cols[:, n - lo] = ((h ^ np.uint32(_CHAR_SALT + n)) * _MIX32) >> shift
        return cols, valid

    def columns(self, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Column of every n-gram of the batch, in row order, and how many each post has."""
        keys, valid = self._kept(enc)
        cols = keys.ravel()[valid.ravel()].astype(np.int32)
        per_post = np.add.reduceat(valid.sum(axis=1, dtype=np.int32), enc.starts) if enc.n_posts else np.zeros(0, np.int32)
        return cols, per_post.astype(np.int64)

    def sums(self, enc: Encoded, table: np.ndarray) -> np.ndarray:
        """``occurrences(enc) @ table``, with every window in the matrix: the ones that are not
        n-grams point at the table's row of zeros. A fixed number of entries per position saves
        picking out the n-grams, which took longer than the product."""
        keys, valid = self._kept(enc)
        keys[~valid] = self.n_features
        indptr = np.append(enc.starts, len(enc.cp)) * keys.shape[1]
        x = sp.csr_matrix((np.ones(keys.size, dtype=np.float32), keys.ravel().view(np.int32), indptr),
                          shape=(enc.n_posts, self.n_features + 1))
        return x @ table

    def grams(self, enc: Encoded) -> Grams:
        lo, hi = self.ngram_range
        keys, valid = self._kept(enc)
        keep = valid.ravel()
        start = np.repeat(np.arange(len(enc.cp)), hi - lo + 1)[keep]
        end = start + np.tile(np.arange(lo, hi + 1), len(enc.cp))[keep]
        return enc.row[start], keys.ravel()[keep].astype(np.int32), start, end


class WordNgrams(_HashedNgrams):
    """Hashed n-grams of words (:func:`postlens.ngrams.tokens` without symbols); Chinese is left to characters.

    Punctuation, emoji and numbers are left to the character n-grams too: as word tokens they
    made Chinese posts, whose only "words" they often are, look alike.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2), n_features: int = 2**18, min_df: int = 2):
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df

    def grams(self, enc: Encoded) -> Grams:
        lo, hi = self.ngram_range
        tok_start, tok_end = ngrams.tokens(enc, symbols=False)
        number = (enc.cp[tok_start] == ngrams.ZERO) & (tok_end - tok_start == 1)
        tok_start, tok_end = tok_start[~number], tok_end[~number]
        count = len(tok_start)
        tok_row = enc.row[tok_start]
        tok_hash = ngrams.span_hash(enc, tok_start, tok_end - tok_start)
        at = np.arange(count)
        starts, valid, hashes, ends = [], [], [], []
        for n in range(lo, hi + 1):
            ok = np.zeros(count, dtype=bool)
            ok[: max(count - n + 1, 0)] = tok_row[: max(count - n + 1, 0)] == tok_row[n - 1:]
            g = tok_hash.copy()
            for k in range(1, n):
                g[: count - k] = ngrams.combine(g[: count - k], tok_hash[k:])
            h = np.where(ok, ngrams.salted(g, _WORD_SALT + n), np.uint64(0))
            starts.append(tok_start), valid.append(ok), hashes.append(h)
            ends.append(tok_end[np.minimum(at + n - 1, max(count - 1, 0))] if count else tok_end)
        start, h, end = _ordered(starts, valid, hashes, ends)
        return enc.row[start], ngrams.bucket(h, _bits(self.n_features)), start, end


class CueFeatures(Estimator):
    """One column per codebook cue: ``log1p`` of how often the cue occurs in the post."""

    def fit(self, texts: Sequence[str], y: object = None) -> "CueFeatures":
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        texts = list(texts)
        return sp.csr_matrix(cue_values(texts, ngrams.encode(texts)))


class PostFeatures(Estimator):
    """Character n-grams, word n-grams and cues side by side, each block scaled by its weight.

    Column layout: ``[char | word | cue]``, ``n_features`` columns each for char and word n-grams.
    """

    def __init__(self, char_ngrams: tuple[int, int] = (1, 4), word_ngrams: tuple[int, int] = (1, 2),
                 n_features: int = 2**18, min_df: int = 2, char_weight: float = 1.0, word_weight: float = 0.7,
                 cue_weight: float = 0.4):
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.n_features = n_features
        self.min_df = min_df
        self.char_weight = char_weight
        self.word_weight = word_weight
        self.cue_weight = cue_weight

    def _blocks(self) -> None:
        _bits(self.n_features)
        self.char_ = CharNgrams(self.char_ngrams, self.n_features, self.min_df)
        self.word_ = WordNgrams(self.word_ngrams, self.n_features, self.min_df)

    def counts(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        """The stateless part: raw char counts, word counts and cue values of ``texts``.

        Counted in batches of about :data:`COUNT_BATCH_CHARS` characters, then stacked: hashing
        a batch takes about 80 bytes per character for a moment, so a whole training set at once
        took GBs (each post's counts are its own, so the result is the same).
        """
        if not hasattr(self, "char_"):
            self._blocks()
        texts = list(texts)
        ends = (np.flatnonzero(np.diff(np.cumsum([len(t) for t in texts]) // COUNT_BATCH_CHARS)) + 1).tolist()
        if not ends:
            return self._counts(texts)
        blocks: list[list[sp.csr_matrix] | None] = [[], [], []]
        for a, b in zip([0, *ends], [*ends, len(texts)]):
            for parts, block in zip(blocks, self._counts(texts[a:b])):
                parts.append(block)
        stacked = []
        for k in range(3):  # a block's batches are let go as soon as it is stacked
            stacked.append(sp.vstack(blocks[k], format="csr"))
            blocks[k] = None
        return stacked[0], stacked[1], stacked[2]

    def _counts(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        enc = ngrams.encode(texts)
        return self.char_.counts(enc), self.word_.counts(enc), sp.csr_matrix(cue_values(texts, enc))

    def fit_counts(self, counts: tuple[sp.csr_matrix, ...]) -> "PostFeatures":
        """Learn the IDF weights from :meth:`counts` (lets cross-validation count only once)."""
        self._blocks()
        self.char_.fit_counts(counts[0])
        self.word_.fit_counts(counts[1])
        return self

    def weigh(self, counts: Iterable[sp.csr_matrix], dtype: type = np.float32) -> sp.csr_matrix:
        """Turn :meth:`counts` into the feature matrix ``[char | word | cue]``.

        The values are float32 products; ``dtype=np.float64`` stores those same values as float64
        (what a scikit-learn fit converts them to: asked for here, no float32 copy is kept beside).
        ``counts`` may be a generator (e.g. of row subsets): each block is let go once weighed.
        """
        blocks = iter(counts)
        char = self.char_.weigh(next(blocks))
        char.data *= self.char_weight  # in place: what `char * weight` gives, without a second copy
        word = self.word_.weigh(next(blocks))
        word.data *= self.word_weight
        cue = (next(blocks) * self.cue_weight).astype(np.float32, copy=False)
        return sp.hstack([char, word, cue], format="csr", dtype=dtype)

    def blocks(self, texts: Sequence[str], enc: Encoded | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """The three weighted blocks of ``texts`` (char, word as sparse; cues dense), for fast products."""
        enc = ngrams.encode(texts) if enc is None else enc
        return (self.char_.weighted(enc) * np.float32(self.char_weight),
                self.word_.weighted(enc) * np.float32(self.word_weight),
                cue_values(texts, enc) * np.float32(self.cue_weight))

    def tables(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :meth:`scores` needs of a (columns × labels) weight matrix, made once per model."""
        n = self.n_features
        return self.char_.table(weights[:n]), self.word_.table(weights[n:2 * n]), weights[2 * n:]

    def scores(self, texts: Sequence[str], enc: Encoded, tables: tuple[np.ndarray, ...]) -> np.ndarray:
        """``transform(texts) @ weights`` for ``tables = self.tables(weights)``, without building the
        feature matrix: one gather per n-gram and one sum per post (the labelling hot path)."""
        char, word, cue = tables
        return (self.char_.scores(enc, char) * np.float32(self.char_weight)
                + self.word_.scores(enc, word) * np.float32(self.word_weight)
                + (cue_values(texts, enc) * np.float32(self.cue_weight)) @ cue)

    def fit(self, texts: Sequence[str], y: object = None) -> "PostFeatures":
        return self.fit_counts(self.counts(texts))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        char, word, cue = self.blocks(list(texts))
        return sp.hstack([char, word, sp.csr_matrix(cue)], format="csr", dtype=np.float32)

    @property
    def n_columns(self) -> int:
        return 2 * self.n_features + len(CUES)

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Parameters (JSON-safe) and learned arrays, for saving without pickle."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}
        return {**params, "cues": [cue.id for cue in CUES]}, {"char_idf": self.char_.idf_, "word_idf": self.word_.idf_}

    @classmethod
    def from_state(cls, params: dict, arrays: dict[str, np.ndarray]) -> "PostFeatures":
        """The inverse of :meth:`get_state`; a ``ValueError`` or ``TypeError`` names a setting that is
        not one :meth:`get_state` could have written (a saved model is data from anywhere)."""
        if not isinstance(params, dict):
            raise ValueError("the feature settings must be a table")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        cues = params.pop("cues", None)
        if cues != tuple(cue.id for cue in CUES):
            raise ValueError("the model was built with a different set of cues than this postlens has; "
                             "use the postlens version that built it, or retrain")
        self = cls(**params)
        for key in ("n_features", "min_df"):
            if type(getattr(self, key)) is not int:
                raise ValueError(f"{key} must be a whole number, got {getattr(self, key)!r:.40}")
        for key in ("char_ngrams", "word_ngrams"):
            r = getattr(self, key)
            if not (isinstance(r, tuple) and len(r) == 2 and all(type(n) is int for n in r) and 1 <= r[0] <= r[1] <= 8):
                raise ValueError(f"{key} must be two whole numbers 1 <= low <= high <= 8, got {r!r:.40}")
        for key in ("char_weight", "word_weight", "cue_weight"):
            w = getattr(self, key)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1e6:  # NaN too
                raise ValueError(f"{key} must be a number from 0 to 1e6, got {w!r:.40}")
        self._blocks()
        for block, key in ((self.char_, "char_idf"), (self.word_, "word_idf")):
            idf = np.asarray(arrays[key], dtype=np.float32)
            if idf.shape != (self.n_features,):
                raise ValueError(f"{key} has shape {idf.shape}, expected ({self.n_features},)")
            block.idf_ = idf
        return self
