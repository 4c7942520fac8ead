import pytest

from postlens.text import MAX_CHARS, check_text, detect_language, normalize


@pytest.mark.parametrize("raw, expected", [
    # WeChat article HTML: tags, entities, line breaks, scripts
    ("<p>春节&nbsp;营业时间</p><p>调整通知</p>", "春节 营业时间\n调整通知"),
    ("<section><span>Hi</span>&amp;<b>bye</b><script>track()</script></section>", "Hi & bye"),
    ("第一行<br/>第二行<BR>第三行", "第一行\n第二行\n第三行"),
    # full-width forms
    ("ＡＢＣ１２３！？", "ABC123!?"),
    # links, handles, e-mail, phones
    ("see https://t.co/a2xkfCrUG1 and www.example.com/x?y=1", "see <url> and <url>"),
    ("[URL] [URL]", "<url> <url>"),
    ("详情戳O网页链接", "详情戳 <url>"),
    ("@116011 To better assist you ^Anoop", "@user To better assist you ^Anoop"),
    ("@[mention] thanks!", "@user thanks!"),
    ("回复 @招商银行信用卡：您好", "回复 @user:您好"),
    ("write to help@brand.co.uk", "write to <email>"),
    ("call 400-820-1234 or 13812345678", "call <phone> or <phone>"),
    ("call (212) 555-0199 today", "call <phone> today"),
    # numbers that are not phones stay
    ("2023-11-23 订单 20231123 满199减30", "2023-11-23 订单 20231123 满199减30"),
    # hashtags keep their words, Weibo topics lose the closing #
    ("#双十一#来了 #BlackFriday", "#双十一 来了 #BlackFriday"),
    # whitespace
    ("  a \t\t b \n\n\n c  ", "a b\nc"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_normalize_drops_control_chars_and_lone_surrogates():
    assert normalize("bad\x00te\x07xt\ud800 ok\u200b") == "bad te xt ok"


def test_normalize_caps_length():
    assert len(normalize("好" * (3 * MAX_CHARS))) == MAX_CHARS


@pytest.mark.parametrize("bad, error", [
    (None, TypeError), (b"bytes", TypeError), (42, TypeError), (3.5, TypeError), (["list"], TypeError),
    ("", ValueError), ("   \n\t ", ValueError),
])
def test_check_text_rejects(bad, error):
    with pytest.raises(error):
        check_text(bad)


def test_bytes_error_says_how_to_fix():
    with pytest.raises(TypeError, match="decode"):
        check_text(b"abc")


@pytest.mark.parametrize("text, lang", [
    ("春节期间营业时间调整通知", "zh"),
    ("【宠粉日】免费领！", "zh"),
    ("Our summer sale ends tonight, shop now", "en"),
    ("Among Us (2020). <url>", "en"),
    ("@user thanks!", "en"),
    ("신제품 출시 기념 할인 이벤트", "ko"),
    ("新品上市 Limited edition 🎉", "zh"),
    ("Hola a todos, el nuevo sabor de la casa ya está aquí", "other"),
    ("今日は良い天気ですね", "other"),
    ("12345 !!!", "other"),
])
def test_detect_language(text, lang):
    assert detect_language(text) == lang


def test_nfkc_by_table_is_unicodedata_nfkc_for_every_code_point():
    """Normalisation maps characters through a table and leaves the rest to unicodedata: every
    code point, alone and next to characters it could combine with, gives what NFKC gives."""
    import unicodedata

    from postlens import text

    chars = [chr(i) for i in range(text._NFKC_SIZE) if not 0xD800 <= i < 0xE000 and i != 0xFFFF]
    for context in ("{}", "a{}\u0301", "가{}", "{}\u1161", "\u1100{}", "e{}x"):
        posts = [context.format(c) for c in chars]
        for start in range(0, len(posts), 20_000):
            joined = text._SEP.join(posts[start:start + 20_000])
            assert text._nfkc(joined) == unicodedata.normalize("NFKC", joined), context
    # The table stops where decompositions and combining classes do.
    assert not any(unicodedata.decomposition(chr(i)) or unicodedata.combining(chr(i))
                   for i in range(text._NFKC_SIZE, 0x110000))


def test_phone_hint_by_arrays_finds_the_posts_the_pattern_does():
    import random
    import re

    from postlens import text

    hint = re.compile(r"\d{3}[\s.-]?\d{3}")

    def rows_with_hint(joined):
        return {joined.count(text._SEP, 0, m.start()) for m in hint.finditer(joined)}

    rng = random.Random(0)
    alphabet = list("0123456789 .-x\t\n") + ["٣", "\u3000", "\u00a0", "𐒠", "好", "😂"]
    for _ in range(5000):
        posts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(rng.randint(1, 5))]
        joined = text._SEP.join(posts)
        assert text._phone_rows(joined) == rows_with_hint(joined), posts
    assert not any(chr(i).isdecimal() for i in range(0x20000, 0x110000))  # the digit table's reach
