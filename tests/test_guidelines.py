"""Hand-computed scores of the default guideline profile."""
import pytest

from postlens.guidelines import BALANCED, weigh_mix


def mix(**shares):
    out = {k: 0.0 for k in BALANCED.values}
    out.update(shares)
    return out


def test_healthy_mix_scores_its_value():
    # value = 0.3*100 + 0.3*100 + 0.3*100 + 0.05*30 + 0.05*10 = 92; no rule broken
    score, value, findings = weigh_mix(mix(service=0.3, user_interest=0.3, community=0.3, brand_news=0.05, hard_ad=0.05))
    assert value == pytest.approx(92.0)
    assert score == pytest.approx(92.0)
    assert findings == []


def test_hard_ad_heavy_mix():
    # value = 0.46*10 + 0.54*100 = 58.6
    # hard_ad cap 15%: -31; self-promotion cap 25% (excess 21, already taken by the hard-ad cap): -0;
    # floors: user_interest 0 (-5), community 0 (-5)
    score, value, findings = weigh_mix(mix(hard_ad=0.46, service=0.54))
    assert value == pytest.approx(58.6)
    assert score == pytest.approx(58.6 - 31 - 5 - 5)
    assert "hard ad posts are 46% of posts; the guideline caps them at 15%" in [f.message for f in findings]


def test_all_brand_news_is_clipped_at_zero():
    score, value, findings = weigh_mix(mix(brand_news=1.0))
    assert value == pytest.approx(30.0)
    assert score == 0.0
    assert {f.rule for f in findings} == {"max_share.brand_news", "max_self_promotion", "min_share.service",
                                          "min_share.user_interest", "min_share.community"}


def test_post_value_is_expected_value():
    assert BALANCED.value_of({"hard_ad": 0.5, "service": 0.5}) == pytest.approx(55.0)


def test_self_promotion_cap_adds_only_what_label_caps_missed():
    # brand_news 14% and hard_ad 14% are each under their 15% caps, together 28% > 25%: -3
    # value = 0.14*30 + 0.14*10 + 0.72*100 = 77.6
    score, value, findings = weigh_mix(mix(brand_news=0.14, hard_ad=0.14, service=0.24, user_interest=0.24,
                                           community=0.24))
    assert value == pytest.approx(77.6)
    assert score == pytest.approx(77.6 - 3)
    assert [f.rule for f in findings] == ["max_self_promotion"]
