"""Text normalisation and language detection.

Turns what users paste or export (WeChat article HTML, full-width characters, tweets with
links and handles, Weibo ``#话题#``) into one plain form that the features, the model and the
evidence all read. Placeholders replace what identifies a person or a page rather than what a
post says: links become ``<url>``, handles ``@user``, e-mail addresses ``<email>``, phone
numbers ``<phone>``. Hashtags keep their words (``#话题#`` and ``#topic`` both become
``#topic``), because the words carry the content.
"""
from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["check_text", "normalize", "detect_language", "MAX_CHARS"]

#: Posts longer than this are cut before labelling (a WeChat article body is ~2-20k chars).
MAX_CHARS = 20_000

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_HTML_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});")
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/section|/tr)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"<[^<>]*>")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'，。！？、）】]+"
    r"|\b(?:t\.co|bit\.ly|goo\.gl|ow\.ly|tinyurl\.com|dwz\.cn|url\.cn)/[^\s<>\"'，。！？、）】]+"
    r"|\[(?:url|link|链接)\]"
    r"|O?网页链接",
    re.I,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MENTION = re.compile(r"@\[mention\]|@[\w\u4e00-\u9fff\u3400-\u4dbf·\-]{1,30}", re.I)
_PHONE = re.compile(
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w.])"
    r"|(?<![\w.])\d{3,4}-\d{7,8}(?![\w.])"
    r"|(?<!\d)1[3-9]\d{9}(?!\d)"
)
_WEIBO_TOPIC = re.compile(r"#([^#\n]{1,40})#")
_SPACE = re.compile(r"[ \t\r\f\v]+")
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
    text = check_text(text)[: 4 * MAX_CHARS]
    text = _SURROGATES.sub("", text)
    if _HTML_HINT.search(text):
        text = _strip_html(text)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" <url> ", text)
    text = _EMAIL.sub(" <email> ", text)
    text = _MENTION.sub("@user", text)
    text = _PHONE.sub(" <phone> ", text)
    text = _WEIBO_TOPIC.sub(r"#\1 ", text)
    text = _SPACE.sub(" ", text)
    text = _NEWLINES.sub("\n", text).strip()
    return text[:MAX_CHARS]


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LATIN_WORD = re.compile(r"[a-zA-Z]+")
_OTHER_LETTER = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f\u4e00-\u9fff\u3400-\u4dbf\uac00-\ud7a3\u3040-\u30ff]")
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


def detect_language(text: str) -> str:
    """Guess the language of a post: ``"zh"``, ``"en"``, ``"ko"`` or ``"other"``.

    Script counts decide between Korean (Hangul syllables), Chinese (Han characters, without
    Japanese kana) and Latin text (words, each worth 1.5 characters); Latin text is English unless another language's function words outnumber
    English ones. Needs no model download.
    """
    hangul = len(_HANGUL.findall(text))
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    words = [w.lower() for w in _LATIN_WORD.findall(text) if w.lower() not in {"url", "user", "email", "phone"}]
    other = len(_OTHER_LETTER.findall(text))
    if kana >= 2 and kana >= 0.1 * (han + kana):
        return "other"  # Japanese
    # One Han character or Hangul syllable carries about as much as a short Latin word.
    scores = {"ko": hangul, "zh": han, "latin": 1.5 * len(words), "other": other / 3}
    best = max(scores, key=scores.__getitem__)
    if scores[best] == 0:
        return "other"
    if best != "latin":
        return best
    english = sum(w in _EN for w in words)
    foreign = max(sum(w in vocab for w in words) for vocab in _NOT_EN.values())
    return "other" if foreign > english and foreign >= 2 else "en"
