"""Text normalisation and language detection.

Turns what users paste or export (WeChat article HTML, full-width characters, tweets with
links and handles, Weibo ``#话题#``) into one plain form that the features, the model and the
evidence all read. Placeholders replace what identifies a person or a page rather than what a
post says: links become ``<url>``, handles ``@user``, e-mail addresses ``<email>``, phone
numbers ``<phone>``. Hashtags keep their words (``#话题#`` and ``#topic`` both become
``#topic``), because the words carry the content.
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import Callable, Sequence

import numpy as np

from . import ngrams

__all__ = ["check_text", "normalize", "normalize_many", "detect_language", "languages", "MAX_CHARS"]

#: Posts longer than this are cut before labelling (a WeChat article body is ~2-20k chars).
MAX_CHARS = 20_000

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_HTML_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});")
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/section|/tr)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^<>]*>")
_SEP = "\uffff"  # joins the posts of a batch (a noncharacter; no pattern here matches or crosses it)
_URL_END = r"[^\s<>\"'，。！？、）】\uffff]+"
_SHORT_LINK_HINT = re.compile(r"/(?:(?<=t\.co/)|(?<=bit\.ly/)|(?<=goo\.gl/)|(?<=ow\.ly/)|(?<=tinyurl\.com/)"
                              r"|(?<=dwz\.cn/)|(?<=url\.cn/))", re.I)
_URLS = (  # (a part every match contains, in lower case; the pattern; a pattern that picks the posts
    # to run it on, when one pass over the whole batch would be slow), tried in this order
    ("://", re.compile(r"https?://" + _URL_END, re.I), re.compile("://")),
    ("www.", re.compile(r"www\." + _URL_END, re.I), None),
    ("/", re.compile(r"\b(?:t\.co|bit\.ly|goo\.gl|ow\.ly|tinyurl\.com|dwz\.cn|url\.cn)/" + _URL_END, re.I),
     _SHORT_LINK_HINT),
    ("[", re.compile(r"\[(?:url|link|链接)\]", re.I), None),
    ("o网页链接", re.compile("O网页链接"), None),  # Weibo's link icon and text; literal patterns are
    ("网页链接", re.compile("网页链接"), None),  # searched for much faster than ones with "O?"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_EMAIL_HINT = re.compile(r"@[\w-]+\.[\w-]")  # a part of every address _EMAIL finds (and quick to look for)
_MENTION = re.compile(r"@\[mention\]|@[\w\u4e00-\u9fff\u3400-\u4dbf·\-]{1,30}", re.I)
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w.])"
    r"|(?<![\w.])\d{3,4}-\d{7,8}(?![\w.])"
    r"|(?<!\d)1[3-9]\d{9}(?!\d)"
)
_WEIBO_TOPIC = re.compile(r"#([^#\n\uffff]{1,40})#")
_SPACE = re.compile(r"[ \t\r\f\v]{2,}|[\t\r\f\v]")  # a run of spaces and tabs, but not one space alone
_NEWLINES = re.compile(r"\s*\n\s*")


def check_text(text: object) -> str:
    """Return ``text`` if it is a usable post, else raise a clear error.

    Raises:
        TypeError: ``text`` is not a ``str`` (``None``, bytes, numbers, ...).
        ValueError: ``text`` is empty or whitespace only.
    """
    if isinstance(text, (bytes, bytearray)):
        raise TypeError("a post must be str, not bytes: decode it first, e.g. data.decode('utf-8')")
    if not isinstance(text, str):
        raise TypeError(f"a post must be str, not {type(text).__name__}")
    if not text.strip():
        raise ValueError("a post must contain text; got an empty or whitespace-only string")
    return text


def _strip_html(text: str) -> str:
    text = _HTML_DROP.sub(" ", text)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    return html.unescape(text)


def normalize(text: str) -> str:
    """Return the plain, canonical form of one post.

    Strips HTML tags and entities, applies NFKC (full-width forms to ASCII), removes control
    characters and lone surrogates, replaces links, handles, e-mail addresses and phone
    numbers with placeholders, writes Weibo topics ``#话题#`` as ``#话题``, and collapses
    whitespace (keeping single line breaks). Case is preserved. Posts longer than
    :data:`MAX_CHARS` are cut to that length.

    >>> normalize("【新品】限时５折！&nbsp;详情<br>戳 https://t.cn/abc @小助手")
    '【新品】限时5折! 详情\\n戳 <url> @user'
    """
    return normalize_many([check_text(text)])[0]


def normalize_many(texts: Sequence[str]) -> list[str]:
    """:func:`normalize` of each of ``texts`` (strings), done for the whole batch at once.

    The posts are joined with a character no pattern matches or crosses, so most steps are
    one regular-expression pass over the batch; the rest run only on the posts a cheap test
    picks out.
    """
    posts = [t if len(t) <= 4 * MAX_CHARS else t[: 4 * MAX_CHARS] for t in texts]
    joined = _SEP.join(posts)
    if joined.count(_SEP) != len(posts) - 1:  # a post holds the separator itself: one at a time
        return [normalize_many([t.replace(_SEP, "")])[0] for t in posts]
    joined = _SURROGATES.sub("", joined)
    if ("<" in joined or "&" in joined) and _HTML_HINT.search(joined):
        joined = _SEP.join(_strip_html(p).replace(_SEP, "") if ("<" in p or "&" in p) and _HTML_HINT.search(p) else p
                           for p in joined.split(_SEP))
    joined = _CONTROL.sub(" ", _nfkc(joined))
    lower = joined.lower()
    for hint, pattern, posts_with in _URLS:
        if hint in lower:
            joined = (pattern.sub(" <url> ", joined) if posts_with is None
                      else _per_post(joined, posts_with, lambda p: pattern.sub(" <url> ", p)))
    phone = _phone_rows(joined)
    out = []
    for i, p in enumerate(joined.split(_SEP)):
        if "@" in p:
            p = _MENTION.sub("@user", _EMAIL.sub(" <email> ", p) if _EMAIL_HINT.search(p) else p)
        if i in phone:
            p = _PHONE.sub(" <phone> ", p)
        if p.count("#") > 1:
            p = _WEIBO_TOPIC.sub(r"#\1 ", p)
        if "  " in p or "\t" in p:
            p = _SPACE.sub(" ", p)
        if "\n" in p:
            p = _NEWLINES.sub("\n", p)
        p = p.strip()
        out.append(p if len(p) <= MAX_CHARS else p[:MAX_CHARS])
    return out


_NFKC_SIZE = 0x30000  # no code point above has a decomposition or a combining class


@functools.cache
def _nfkc_tables() -> tuple[np.ndarray, np.ndarray]:
    """For every code point below :data:`_NFKC_SIZE`: its NFKC form when that is one character
    (else itself), and whether the post needs the full algorithm because of it (its form is
    longer, or is a character that combines with its neighbours or is reordered among them).
    Built on first use from :mod:`unicodedata` (about 0.1 s), so it follows this Python's Unicode."""
    chars = [chr(i) for i in range(_NFKC_SIZE)]
    decompositions = [unicodedata.decomposition(c) for c in chars]
    seconds = {0x1161 + i for i in range(21)} | {0x11A8 + i for i in range(27)}  # Hangul vowels, final consonants
    seconds.update(int(d.split()[1], 16) for d in decompositions if d and d[0] != "<" and " " in d)
    single = np.arange(_NFKC_SIZE, dtype=np.uint32)
    full = np.fromiter(map(unicodedata.combining, chars), dtype=np.uint8, count=_NFKC_SIZE).astype(bool)
    full[list(seconds)] = True
    full[0xD800:0xE000] = True  # surrogates (removed before this runs)
    for i, d in enumerate(decompositions):
        if d:  # anything else is its own NFKC form
            form = unicodedata.normalize("NFKC", chars[i])
            if len(form) == 1:
                single[i] = ord(form)
            full[i] = len(form) != 1 or ord(form) in seconds or unicodedata.combining(form) != 0
    return single, full


def _nfkc(joined: str) -> str:
    """NFKC of a joined batch, mostly by table look-up.

    Mapping each character to its one-character NFKC form gives the NFKC form of the post when
    no character in it combines with another (normalisation of a concatenation is normalisation
    of the normalised parts); the few posts with one get the full algorithm.
    """
    if unicodedata.is_normalized("NFKC", joined):
        return joined
    single, full = _nfkc_tables()
    cp = _code_points(joined)
    at = np.minimum(cp, _NFKC_SIZE - 1)
    mapped, tricky = single[at], full[at]
    beyond = np.flatnonzero(cp >= _NFKC_SIZE)
    mapped[beyond], tricky[beyond] = cp[beyond], False
    out = mapped.tobytes().decode("utf-32-le")
    tricky = np.flatnonzero(tricky)
    if len(tricky) == 0:
        return out
    # Mapping keeps every character's place, so the posts to redo are where they were.
    return _redo(out, tricky, functools.partial(unicodedata.normalize, "NFKC"), source=joined, cp=cp)


def _code_points(joined: str) -> np.ndarray:
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)


def _redo(joined: str, positions: Sequence[int] | np.ndarray, step: Callable[[str], str], source: str | None = None,
          cp: np.ndarray | None = None) -> str:
    """``joined`` with each post that holds one of ``positions`` replaced by ``step`` of it (or of
    the same post in ``source``, a batch whose posts sit at the same places); the others untouched."""
    cp = _code_points(joined) if cp is None else cp
    seps = np.concatenate(([-1], np.flatnonzero(cp == ord(_SEP)), [len(cp)]))
    rows = np.unique(np.searchsorted(seps, positions) - 1)
    source = joined if source is None else source
    pieces, done = [], 0
    for start, end in zip((seps[rows] + 1).tolist(), seps[rows + 1].tolist()):
        pieces += [joined[done:start], step(source[start:end])]
        done = end
    pieces.append(joined[done:])
    return "".join(pieces)


@functools.cache
def _digit_tables() -> tuple[np.ndarray, np.ndarray]:
    """What ``\\d`` matches (no code point from 0x20000 up is a digit) and what ``[\\s.-]`` does."""
    digit = np.fromiter((chr(i).isdecimal() for i in range(0x20000)), dtype=bool, count=0x20000)
    between = np.fromiter((chr(i).isspace() for i in range(0x10000)), dtype=bool, count=0x10000)
    between[[ord("."), ord("-")]] = True
    return digit, between


def _phone_rows(joined: str) -> set[int]:
    """The posts of a joined batch that may hold a phone number: where ``\\d{3}[\\s.-]?\\d{3}``
    matches (a part of every number :data:`_PHONE` finds), found with array operations (a regular
    expression that starts with a digit is tried at every digit, and most posts have some)."""
    cp = _code_points(joined)
    if len(cp) < 6:
        return set()
    digit, between = _digit_tables()
    d = digit[np.minimum(cp, len(digit) - 1)] & (cp < len(digit))
    three = d[:-2] & d[1:-1] & d[2:]  # three[i]: digits at i, i+1, i+2
    n = len(three)
    hit = three[: n - 3] & three[3:]
    hit[: n - 4] |= three[: n - 4] & between[np.minimum(cp[3: n - 1], 0xFFFF)] & (cp[3: n - 1] < 0x10000) & three[4:]
    at = np.flatnonzero(hit)
    return set(np.searchsorted(np.flatnonzero(cp == ord(_SEP)), at).tolist()) if len(at) else set()


def _per_post(joined: str, hint: re.Pattern[str], step: Callable[[str], str]) -> str:
    """Apply ``step`` to the posts of a joined batch in which ``hint`` matches."""
    starts = [m.start() for m in hint.finditer(joined)]
    return _redo(joined, starts, step) if starts else joined


_EN = frozenset(
    "the a an and or of to in on for with at by from is are was were be been it this that these those "
    "we our you your they their i my he she his her us me not no but if so as up out all new now get "
    "how what why when who which can will just more about here there do does did have has had thanks "
    "please today check see let us it's we're you're don't can't".split()
)
_NOT_EN = {  # frequent function words of other Latin-script languages
    "es": frozenset("el la los las de del y en que por para con una un es su al lo como más pero sus".split()),
    "fr": frozenset("le la les des du et en est pour que une un dans sur avec pas au aux ce qui vous nous".split()),
    "de": frozenset("der die das und ist nicht mit von zu den ein eine für auf im dem des sie wir ihr".split()),
    "pt": frozenset("o os as de do da dos das e em que para com uma um não é por no na ao seu sua".split()),
    "id": frozenset("yang dan di ke dari untuk dengan ini itu tidak ada kami kamu anda akan juga".split()),
}
_PLACEHOLDERS = ("url", "user", "email", "phone")


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    """Hashes of the runs of a-z letters in ``words`` (as :func:`languages` cuts them)."""
    enc = ngrams.encode([" ".join(words)])
    starts, ends = _latin_runs(enc)
    return ngrams.span_hash(enc, starts, ends - starts)


def _latin_runs(enc: ngrams.Encoded) -> tuple[np.ndarray, np.ndarray]:
    latin = (enc.cp >= 97) & (enc.cp <= 122)
    before = np.concatenate(([False], latin[:-1]))
    after = np.concatenate((latin[1:], [False]))
    return np.flatnonzero(latin & ~before), np.flatnonzero(latin & ~after) + 1


def _other_letters() -> np.ndarray:
    """Letters of scripts other than Latin, Chinese, Korean and Japanese kana (BMP code points)."""
    chars = (chr(i) for i in range(0x10000))
    table = np.fromiter(((c.isalnum() and not c.isdecimal()) for c in chars), dtype=bool, count=0x10000)
    for lo, hi in ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x4E00, 0x9FFF), (0x3400, 0x4DBF),
                   (0xAC00, 0xD7A3), (0x3040, 0x30FF)):
        table[lo:hi + 1] = False
    return table


_OTHER = _other_letters()
_VOCAB_LISTS = {"placeholders": _PLACEHOLDERS, "en": sorted(_EN), **{k: sorted(v) for k, v in _NOT_EN.items()}}


@functools.cache
def _vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """The hashes of every word of :data:`_VOCAB_LISTS`, sorted, and for each a bit per list it is in."""
    hashes = [_word_hashes(words) for words in _VOCAB_LISTS.values()]
    bits = np.concatenate([np.full(len(h), 1 << i, dtype=np.uint16) for i, h in enumerate(hashes)])
    keys, where = np.unique(np.concatenate(hashes), return_inverse=True)
    lists = np.zeros(len(keys), dtype=np.uint16)
    np.bitwise_or.at(lists, where, bits)
    return keys, lists


def _lists_of(words: np.ndarray) -> np.ndarray:
    """For each word hash, a bit per list of :data:`_VOCAB_LISTS` it is in (one look-up for all lists)."""
    keys, lists = _vocabulary()
    pos = np.minimum(np.searchsorted(keys, words), len(keys) - 1)
    return np.where(keys[pos] == words, lists[pos], 0)


def languages(enc: ngrams.Encoded) -> list[str]:
    """:func:`detect_language` of every post of an encoded batch, in a few vector operations."""
    cp, row, n = enc.cp, enc.row, enc.n_posts

    def per_post(mask: np.ndarray, rows: np.ndarray = row) -> np.ndarray:
        return np.bincount(rows[mask], minlength=n)

    hangul = per_post(((cp >= 0xAC00) & (cp <= 0xD7A3)) | ((cp >= 0x1100) & (cp <= 0x11FF))
                      | ((cp >= 0x3130) & (cp <= 0x318F)))
    han = per_post(((cp >= 0x4E00) & (cp <= 0x9FFF)) | ((cp >= 0x3400) & (cp <= 0x4DBF))
                   | ((cp >= 0xF900) & (cp <= 0xFAFF)))
    kana = per_post((cp >= 0x3040) & (cp <= 0x30FF))
    other = per_post((cp < 0x10000) & _OTHER[np.minimum(cp, 0xFFFF)])
    starts, ends = _latin_runs(enc)
    words = ngrams.span_hash(enc, starts, ends - starts)
    rows = row[starts]
    lists = _lists_of(words)
    bit = {name: np.uint16(1 << i) for i, name in enumerate(_VOCAB_LISTS)}
    latin = per_post((lists & bit["placeholders"]) == 0, rows)
    english = per_post((lists & bit["en"]) != 0, rows)
    foreign = np.max([per_post((lists & bit[k]) != 0, rows) for k in _NOT_EN], axis=0)
    # One Han character or Hangul syllable carries about as much as a short Latin word.
    scores = np.stack([hangul, han, 1.5 * latin, other / 3], axis=1)
    best = scores.argmax(axis=1)
    names = np.array(["ko", "zh", "en", "other"], dtype=object)
    out = names[best]
    out[(best == 2) & (foreign > english) & (foreign >= 2)] = "other"
    out[scores.max(axis=1) == 0] = "other"
    out[(kana >= 2) & (kana >= 0.1 * (han + kana))] = "other"  # Japanese
    return out.tolist()


def detect_language(text: str) -> str:
    """Guess the language of a post: ``"zh"``, ``"en"``, ``"ko"`` or ``"other"``.

    Script counts decide between Korean (Hangul syllables), Chinese (Han characters, without
    Japanese kana) and Latin text (words, each worth 1.5 characters); Latin text is English
    unless another language's function words outnumber English ones. Needs no model download.
    """
    return languages(ngrams.encode([check_text(text)]))[0]
