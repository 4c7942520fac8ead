"""Hashing the n-grams of a whole batch of posts at once, with numpy.

A per-post Python loop over n-grams is what makes text classifiers in Python slow. Here a
batch of normalised posts becomes one array of code points (each post followed by a 0);
a prefix array of polynomial hashes then gives the hash of *any* span in three vector
operations, wherever it sits (``span_hash``). Character n-grams, word tokens, word n-grams
and the cue phrases of :mod:`postlens.cues` are all spans of that one array, so training,
labelling and explanations hash exactly the same way.

The text that is hashed is the post's *feature text*: lower case, every run of digits
written as one ``0`` (a number says nothing about a label; the words around it do), line
breaks as spaces and the ``<url>`` placeholder blanked (nearly every post carries a link,
whatever its label).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Encoded", "encode", "span_hash", "combine", "salted", "bucket", "window_hashes", "tokens", "feature_text"]

_U64 = np.uint64
_P = 0x100000001B3  # odd, so it has an inverse modulo 2**64
_P_INV = pow(_P, -1, 2**64)
_MIX = _U64(0x9E3779B97F4A7C15)
ZERO, SPACE, _NEWLINE = 48, 32, 10  # code points of "0", " ", "\n"

_powers_lock = threading.Lock()
_pw = np.ones(1, dtype=_U64)
_ipw = np.ones(1, dtype=_U64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``P**i`` and ``P**-i`` modulo 2**64 for ``i < n`` (cached, grown on demand)."""
    global _pw, _ipw
    if len(_pw) < n:
        with _powers_lock:
            if len(_pw) < n:
                size = max(n, 2 * len(_pw), 1 << 16)
                pw = np.empty(size, dtype=_U64)
                ipw = np.empty(size, dtype=_U64)
                pw[0] = ipw[0] = 1
                with np.errstate(over="ignore"):
                    pw[1:] = np.cumprod(np.full(size - 1, _P, dtype=_U64))
                    ipw[1:] = np.cumprod(np.full(size - 1, _P_INV, dtype=_U64))
                _ipw, _pw = ipw, pw
    return _pw[:n], _ipw[:n]


def _classes() -> np.ndarray:
    """Token class of every BMP code point: 0 space, 1 word character, 2 a token by itself, 3 Han."""
    cls = np.full(0x10000, 2, dtype=np.uint8)
    alnum = np.fromiter((chr(i).isalnum() for i in range(0x10000)), dtype=bool, count=0x10000)
    cls[alnum] = 1
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
        cls[lo:hi + 1] = 3
    space = np.fromiter((chr(i).isspace() for i in range(0x10000)), dtype=bool, count=0x10000)
    cls[space] = 0
    cls[0] = 0
    return cls


_CLASS = _classes()
_APOSTROPHES = (39, 0x2019)


def feature_text(text: str) -> str:
    """The feature text of one normalised post, as :func:`encode` hashes it (for display and tests)."""
    enc = encode([text])
    return enc.cp[:-1].astype(np.uint32).tobytes().decode("utf-32-le")


@dataclass(frozen=True)
class Encoded:
    """A batch of posts as one array of feature-text code points.

    Attributes:
        cp: code points (int64) of every post's feature text, each post followed by a 0.
        starts: index in ``cp`` where each post starts.
        row: the post each position belongs to.
        room: for each position, how many characters of its post start there (up to its 0).
        prefix: polynomial prefix hashes, ``len(cp) + 1`` of them.
        source: for each position, its index in the post's normalised text (``None`` unless
            encoded with ``positions=True``).
    """

    cp: np.ndarray
    starts: np.ndarray
    row: np.ndarray
    room: np.ndarray
    prefix: np.ndarray
    source: np.ndarray | None
    _tokens: dict = field(default_factory=dict, compare=False, repr=False)  # what tokens() found, by symbols

    @property
    def n_posts(self) -> int:
        return len(self.starts)

    def lengths(self) -> np.ndarray:
        """Length of each post's feature text."""
        return np.diff(np.append(self.starts, len(self.cp))) - 1


def encode(docs: Sequence[str], positions: bool = False) -> Encoded:
    """Encode normalised posts as one batch (see the module docstring for the feature text).

    ``positions=True`` also maps every code point back to its place in its post (``source``),
    which explanations need and labelling does not.
    """
    joined = "\x00".join(docs) + "\x00"
    lowered = joined.lower()
    if len(lowered) != len(joined):  # a few letters lower-case to two ("İ" -> "i̇"): keep those as they are
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in joined)
    lowered = lowered.replace("<url>", "     ")
    cp = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    cp[cp == _NEWLINE] = SPACE
    digit = (cp >= ZERO) & (cp <= ZERO + 9)
    cp[digit] = ZERO
    keep = ~(digit & np.concatenate(([False], digit[:-1])))  # one 0 per run of digits
    kept = np.flatnonzero(keep)
    cp = cp[kept]
    sep = cp == 0
    ends = np.flatnonzero(sep)
    starts = np.concatenate(([0], ends[:-1] + 1))
    row = (np.cumsum(sep) - sep).astype(np.int64)  # the separator still belongs to its post
    source = None
    if positions:
        offsets = np.concatenate(([0], np.cumsum([len(d) + 1 for d in docs])[:-1]))
        source = kept - offsets[row]
    pw, _ = _powers(len(cp) + 1)
    prefix = np.zeros(len(cp) + 1, dtype=_U64)
    with np.errstate(over="ignore"):
        np.cumsum(cp.astype(_U64) * pw[:len(cp)], out=prefix[1:])
    return Encoded(cp, starts, row, (ends[row] - np.arange(len(cp))).astype(np.int32), prefix, source)


def span_hash(enc: Encoded, start: np.ndarray, length: np.ndarray | int) -> np.ndarray:
    """64-bit hash of ``cp[start:start + length]``, the same wherever the span sits."""
    _, ipw = _powers(len(enc.cp) + 1)
    with np.errstate(over="ignore"):
        return (enc.prefix[start + length] - enc.prefix[start]) * ipw[start]


def combine(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Hash of a sequence of two hashed items (word n-grams, multi-word phrases)."""
    with np.errstate(over="ignore"):
        return (left * _MIX + right) * _U64(_P)


def salted(hashes: np.ndarray, salt: int | np.ndarray) -> np.ndarray:
    """Mix ``hashes`` with ``salt`` (which keeps kinds of n-grams apart) into well-spread 64-bit keys."""
    salt = np.asarray(salt).astype(_U64)
    with np.errstate(over="ignore"):
        return (hashes ^ salt) * _MIX


def bucket(keys: np.ndarray, bits: int) -> np.ndarray:
    """Column index in ``[0, 2**bits)`` of each key from :func:`salted` (its top bits)."""
    return (keys >> _U64(64 - bits)).astype(np.int32 if bits < 31 else np.int64)


def window_hashes(enc: Encoded, n: int) -> np.ndarray:
    """:func:`span_hash` of the ``n`` code points from every position (meaningless where they
    run past the end of the post: check ``enc.room[position] >= n``)."""
    size = len(enc.cp)
    out = np.zeros(size, dtype=_U64)
    if size >= n:
        _, ipw = _powers(size + 1)
        with np.errstate(over="ignore"):
            np.multiply(enc.prefix[n:] - enc.prefix[:-n], ipw[: size - n + 1], out=out[: size - n + 1])
    return out


def tokens(enc: Encoded, symbols: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(start, end)`` of every word token, in order.

    Tokens are runs of letters and digits (with inner apostrophes: "we're"), and every other
    visible character (punctuation, emoji, ``#``, ``@``) by itself, as spaCy's tokenizer splits
    prefixes and suffixes off words. A run that contains Chinese characters is not a token:
    Chinese has no spaces, so it is left to the character n-grams. ``symbols=False`` leaves
    out the one-character tokens that are not letters or digits.
    """
    if symbols not in enc._tokens:
        enc._tokens.update(_tokens(enc))
    return enc._tokens[symbols]


def _tokens(enc: Encoded) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """:func:`tokens` with and without symbols (found together: most of the work is shared)."""
    cp = enc.cp
    cls = np.where(cp < 0x10000, _CLASS[np.minimum(cp, 0xFFFF)], 2)
    cls[(cp >= 0x20000) & (cp <= 0x3FFFF)] = 3  # rarer Han characters
    han = cls == 3
    word = (cls == 1) | han
    apos = (cp == _APOSTROPHES[0]) | (cp == _APOSTROPHES[1])
    if apos.any():
        word |= apos & np.concatenate(([False], word[:-1])) & np.concatenate((word[1:], [False]))
    alone = (cls == 2) & ~word
    prev_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    starts_word, ends_word = word & ~prev_word, word & ~next_word
    han_before = np.concatenate(([0], np.cumsum(han)))
    found = {}
    for symbols in (True, False):
        start = np.flatnonzero(alone | starts_word if symbols else starts_word)
        end = np.flatnonzero(alone | ends_word if symbols else ends_word) + 1
        keep = han_before[end] == han_before[start]
        found[symbols] = start[keep], end[keep]
    return found
