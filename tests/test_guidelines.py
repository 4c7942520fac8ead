"""Hand-computed scores of every shipped guideline profile, the rules on post order, and the edge cases."""
import numpy as np
import pytest

import postlens
from postlens.guidelines import BALANCED, load_profile, weigh_mix, weigh_posts, weigh_sequence

SERVICE, ECOMMERCE, COMMUNITY = (load_profile(n) for n in ("service", "ecommerce", "community"))
CLASSES = sorted(postlens.LABELS)


def mix(**shares):
    out = {k: 0.0 for k in postlens.LABELS}
    out.update(shares)
    return out


def rules(findings):
    return {f.rule for f in findings}


def certain(labels, classes=CLASSES):
    """Probabilities of posts whose labels the model is sure of."""
    proba = np.zeros((len(labels), len(classes)))
    for i, label in enumerate(labels):
        if label in classes:
            proba[i, classes.index(label)] = 1.0
    return proba


# ---- balanced (the default) ------------------------------------------------------------------------
def test_balanced_healthy_mix_scores_its_value():
    # value = 0.3*100 + 0.3*100 + 0.3*100 + 0.05*30 + 0.05*10 = 92; no rule broken
    score, value, findings = weigh_mix(mix(service=0.3, user_interest=0.3, community=0.3, brand_news=0.05, hard_ad=0.05))
    assert value == pytest.approx(92.0) and score == pytest.approx(92.0) and findings == []


def test_balanced_hard_ad_heavy_mix():
    # value = 0.46*10 + 0.54*100 = 58.6
    # hard_ad cap 15%: -31; self-promotion cap 25% (excess 21, already taken by the hard-ad cap): -0;
    # floors: user_interest 0 (-5), community 0 (-5)
    score, value, findings = weigh_mix(mix(hard_ad=0.46, service=0.54))
    assert value == pytest.approx(58.6)
    assert score == pytest.approx(58.6 - 31 - 5 - 5)
    assert "hard ad posts are 46% of posts; the guideline caps them at 15%" in [f.message for f in findings]


def test_balanced_all_brand_news_is_clipped_at_zero_and_flagged():
    score, value, findings = weigh_mix(mix(brand_news=1.0))
    assert value == pytest.approx(30.0) and score == 0.0
    assert rules(findings) == {"max_share.brand_news", "max_self_promotion", "min_share.service",
                               "min_share.user_interest", "min_share.community", "self_talk_only", "requires.service"}
    flags = [f for f in findings if f.rule in ("self_talk_only", "requires.service")]
    assert all(f.penalty == 0 for f in flags)
    assert "the account only talks about itself" in [f.message for f in flags][0]


def test_balanced_self_promotion_cap_adds_only_what_label_caps_missed():
    # brand_news 14% and hard_ad 14% are each under their 15% caps, together 28% > 25%: -3
    # value = 0.14*30 + 0.14*10 + 0.72*100 = 77.6
    score, value, findings = weigh_mix(mix(brand_news=0.14, hard_ad=0.14, service=0.24, user_interest=0.24,
                                           community=0.24))
    assert value == pytest.approx(77.6) and score == pytest.approx(77.6 - 3)
    assert [f.rule for f in findings] == ["max_self_promotion"]


def test_post_value_is_expected_value():
    assert BALANCED.value_of({"hard_ad": 0.5, "service": 0.5}) == pytest.approx(55.0)


# ---- service ----------------------------------------------------------------------------------------
def test_service_profile_within_caps_but_over_self_promotion():
    # value = 0.5*100 + 0.2*90 + 0.1*90 + 0.1*30 + 0.1*10 = 81; each cap (10%) is met exactly;
    # self-promotion 20% > 15%: -5
    score, value, findings = weigh_mix(mix(service=0.5, user_interest=0.2, community=0.1, brand_news=0.1,
                                           hard_ad=0.1), SERVICE)
    assert value == pytest.approx(81.0) and score == pytest.approx(76.0)
    assert rules(findings) == {"max_self_promotion"}


def test_service_profile_too_little_service():
    # value = 0.3*100 + 0.3*90 + 0.2*90 + 0.2*10 = 77; hard_ad cap 10%: -10; service floor 40%: -(10*0.5) = -5;
    # self-promotion 20% > 15% (excess 5, already 10 by the hard-ad cap): -0
    score, value, findings = weigh_mix(mix(service=0.3, user_interest=0.3, community=0.2, hard_ad=0.2), SERVICE)
    assert value == pytest.approx(77.0) and score == pytest.approx(62.0)
    assert rules(findings) == {"max_share.hard_ad", "min_share.service", "max_self_promotion"}


# ---- ecommerce ------------------------------------------------------------------------------------------
def test_ecommerce_allows_a_larger_sales_share_than_balanced():
    shares = mix(hard_ad=0.40, service=0.20, user_interest=0.20, community=0.15, brand_news=0.05)
    # ecommerce: value = 0.4*25 + 0.2*100 + 0.2*100 + 0.15*100 + 0.05*30 = 66.5, no rule broken
    score, value, findings = weigh_mix(shares, ECOMMERCE)
    assert value == pytest.approx(66.5) and score == pytest.approx(66.5) and findings == []
    # balanced: value = 4 + 20 + 20 + 15 + 1.5 = 60.5; hard_ad cap 15%: -25; self-promotion 45% > 25%:
    # excess 20, already 25: -0
    score, value, _ = weigh_mix(shares, BALANCED)
    assert value == pytest.approx(60.5) and score == pytest.approx(35.5)


def test_ecommerce_all_hard_ads():
    # value 25; cap 40%: -60; floors service 10%: -5, user_interest 15%: -7.5; self-promotion 100% > 45%:
    # excess 55, already 60: -0 -> 25 - 72.5 < 0 -> 0
    score, value, findings = weigh_mix(mix(hard_ad=1.0), ECOMMERCE)
    assert value == pytest.approx(25.0) and score == 0.0
    assert sum(f.penalty for f in findings) == pytest.approx(72.5)


# ---- community -------------------------------------------------------------------------------------------
def test_community_profile_mix():
    # value = 0.6*100 + 0.2*90 + 0.1*90 + 0.05*20 + 0.05*5 = 88.25; caps met exactly; self-promotion 10% = cap
    score, value, findings = weigh_mix(mix(community=0.6, user_interest=0.2, service=0.1, brand_news=0.05,
                                           hard_ad=0.05), COMMUNITY)
    assert value == pytest.approx(88.25) and score == pytest.approx(88.25) and findings == []


def test_community_first_weeks_carry_no_selling_and_no_ads_in_a_row():
    labels = ["community", "hard_ad", "hard_ad", "community", "user_interest", "community", "hard_ad"]
    weeks = [0.0, 1.0, 2.5, 3.0, 5.0, 6.0, 8.0]  # posts 2 and 3 fall in the first 4 weeks; post 7 does not
    findings = {f.rule: f for f in weigh_sequence(labels, COMMUNITY, weeks)}
    assert set(findings) == {"max_consecutive.hard_ad", "no_selling_weeks"}
    assert findings["no_selling_weeks"].examples == (1, 2) and findings["no_selling_weeks"].penalty == 10.0
    run = findings["max_consecutive.hard_ad"]  # a run of 2 where 1 is allowed: -5
    assert run.measured == 2 and run.penalty == 5.0 and run.examples == (1, 2)
    # The whole report: value = (3*100 + 90 + 3*5) / 7 = 57.857; hard_ad 3/7 > 5%: -37.857;
    # self-promotion 42.9% > 10% (excess 32.9, already 37.9): -0; floors: service 0 < 5%: -2.5;
    # sequence: -5 -10 -> 57.857 - 37.857 - 2.5 - 15 = 2.5
    report = weigh_posts(labels, certain(labels), CLASSES, COMMUNITY, weeks)
    assert report.user_value == pytest.approx(57.9) and report.score == pytest.approx(2.5)
    assert sum(points for _, points in report.steps) == pytest.approx(report.score, abs=0.05)
    assert any("selling posts of the first 4 weeks (posts #1 and #2)" in r for r in report.recommendations)


def test_community_rule_on_time_is_skipped_without_dates():
    labels = ["hard_ad", "community", "community"]
    assert rules(weigh_sequence(labels, COMMUNITY, None)) == set()
    assert rules(weigh_sequence(labels, COMMUNITY, [None, None, None])) == set()


def test_balanced_run_of_hard_ads():
    labels = ["service"] + ["hard_ad"] * 5 + ["community"] + ["hard_ad"] * 4
    (finding,) = weigh_sequence(labels, BALANCED)
    # runs of 5 and 4 where 3 are allowed: (2 + 1) posts too many: -15
    assert finding.rule == "max_consecutive.hard_ad" and finding.penalty == 15.0 and finding.measured == 5
    assert "the longest is 5 (posts #1 to #5)" in finding.message  # 0-based positions, as its examples


# ---- edge cases of a whole report ----------------------------------------------------------------------------
def test_empty_archive():
    report = weigh_posts([], np.zeros((0, 5)), CLASSES, BALANCED)
    assert report.n_posts == 0 and report.score == 0.0 and rules(report.findings) == {"n_posts"}
    assert postlens.assess([]).n_posts == 0


def test_one_post():
    # one service post: value 100; floors user_interest and community: -5 each
    report = weigh_posts(["service"], certain(["service"]), CLASSES, BALANCED)
    assert report.score == pytest.approx(90.0) and report.mix["service"] == 1.0
    assert report.mix_range["service"] == (1.0, 1.0)


@pytest.mark.parametrize("profile, expected", [(BALANCED, 90.0), (SERVICE, 90.0 - 20.0 - 2.5), (ECOMMERCE, 100 - 5 - 7.5),
                                               (COMMUNITY, 100 - 2.5 - 5)])
def test_all_one_label(profile, expected):
    # all community: BALANCED -5 -5 (service, interest floors); SERVICE value 90, -20 (service floor 40%),
    # -2.5 (interest 5%); ECOMMERCE -5, -7.5; COMMUNITY -2.5, -5
    labels = ["community"] * 6
    report = weigh_posts(labels, certain(labels), CLASSES, profile)
    assert report.score == pytest.approx(expected)


def test_unknown_labels_from_a_custom_model_count_as_zero_and_say_so():
    classes = ["help", "promo"]
    labels = ["promo", "promo", "help"]
    report = weigh_posts(labels, certain(labels, classes), classes, BALANCED)
    # value 0 (the profile knows neither label); floors service, user_interest, community: -5 each -> 0
    assert report.user_value == 0.0 and report.score == 0.0
    assert {"unknown_label.promo", "unknown_label.help"} <= rules(report.findings)
    assert "use a profile written for this model's labels" in next(
        f.message for f in report.findings if f.rule == "unknown_label.promo")


def test_mix_uncertainty_comes_from_the_probabilities():
    labels = ["service", "service", "hard_ad", "community"]
    proba = np.array([[0, 0, 0, 1.0, 0], [0, 0.4, 0, 0.6, 0], [0, 0, 0.9, 0, 0.1], [0, 0.7, 0, 0.3, 0]])
    report = weigh_posts(labels, proba, CLASSES, BALANCED)
    assert report.mix["service"] == 0.5
    assert report.expected_mix["service"] == pytest.approx((1 + 0.6 + 0.3) / 4)
    low, high = report.mix_range["service"]
    half = 1.96 * np.sqrt(0.6 * 0.4 + 0.3 * 0.7) / 4
    assert (low, high) == pytest.approx((0.475 - half, 0.475 + half))


def test_recommendations_name_example_posts_and_weekly_counts():
    labels = (["hard_ad"] * 3 + ["brand_news", "service"]) * 8  # 8 weeks, 5 posts a week
    proba = certain(labels)
    proba[5, :] = 0
    proba[5, CLASSES.index("hard_ad")], proba[5, CLASSES.index("service")] = 0.6, 0.4  # most like a service post
    weeks = [((i // 5) * 7 + i % 5) / 7 for i in range(len(labels))]  # five weekdays a week, 8 weeks
    report = weigh_posts(labels, proba, CLASSES, BALANCED, weeks)
    text = "\n".join(report.recommendations)
    # hard ads 60% against a 15% cap: 18 of the 24 too many, 2 of the 3 weekly hard ads
    assert "replace 2 of the 3 weekly hard ads (18 of 24 in all) with" in text
    # the 18 replaced hard ads bring the 4 community and 4 user-interest posts the floors ask for: no "add" on top
    assert "add " not in text


def test_assess_orders_by_date_and_reads_iso_strings():
    texts = ["今晚8点直播间秒杀，库存有限，手慢无", "限时5折！点击下方链接立即抢购",
             "@sam Sorry about that — DM us your order number and we'll fix it today."]
    report = postlens.assess(texts, dates=["2024-05-03", "2024/05/01", "2024-05-02T08:00:00Z"])
    assert report.n_posts == 3
    with pytest.raises(ValueError, match="date 'yesterday' at 1 is not a date"):
        postlens.assess(texts, dates=["2024-05-01", "yesterday", None])


def test_report_findings_name_posts_as_the_recommendations_do():
    labels = ["service"] + ["hard_ad"] * 5
    report = weigh_posts(labels, certain(labels), CLASSES, BALANCED, numbers=[10, 20, 30, 40, 50, 60])
    run = next(f for f in report.findings if f.rule == "max_consecutive.hard_ad")
    assert run.examples == (20, 30, 40, 50, 60)
    assert any("(posts #20, #30, #40, #50 and #60)" in r for r in report.recommendations)
    assert "(posts #20, #30, #40, #50 and #60)" in run.message
