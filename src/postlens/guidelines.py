"""User-value guidelines: what a post is worth to followers, and whether an account's mix is healthy.

From the codebook (distilled from the seed articles): service, user-interest and community
posts carry high user value; brand news low; hard ads lowest. A healthy account mixes the
three high-value types and keeps brand news and hard ads a small minority. How small is a
:class:`GuidelineProfile` setting.

How a mix is scored (0-100), so that every point can be traced:

1. **value**: the average user value of the posts (each label's share × its value);
2. minus, for every share above its cap, the excess in percentage points; and for brand news
   + hard ads above the self-promotion cap, whatever part of that excess the per-label caps
   have not already taken off;
3. minus half the shortfall, in percentage points, of every share below its floor;
4. clipped to 0-100.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .labels import LABELS, TAXONOMY

__all__ = ["GuidelineProfile", "BALANCED", "Finding", "weigh_mix"]

_NAMES = {label.id: label.name for label in TAXONOMY}


@dataclass(frozen=True)
class GuidelineProfile:
    """A set of user-value guidelines.

    Attributes:
        name: short name of the profile.
        values: user value (0-100) of one post of each label.
        max_share: the largest share (0-1) a label should have.
        min_share: the smallest share (0-1) a label should have.
        max_self_promotion: the largest combined share of brand news and hard ads.
    """

    name: str
    values: Mapping[str, float]
    max_share: Mapping[str, float] = field(default_factory=dict)
    min_share: Mapping[str, float] = field(default_factory=dict)
    max_self_promotion: float = 1.0

    def value_of(self, probabilities: Mapping[str, float]) -> float:
        """Expected user value (0-100) of one post given its label probabilities."""
        return sum(p * self.values.get(label, 0.0) for label, p in probabilities.items())

    def values_of(self, labels: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
        """:meth:`value_of` for many posts at once: ``probabilities`` has one column per label, rounded to 0.1."""
        weights = np.array([self.values.get(label, 0.0) for label in labels])
        return np.round(np.asarray(probabilities) @ weights, 1)


#: The default profile: an account that serves followers, with a little room for news and sales.
BALANCED = GuidelineProfile(
    name="balanced",
    values={"service": 100.0, "user_interest": 100.0, "community": 100.0, "brand_news": 30.0, "hard_ad": 10.0},
    max_share={"brand_news": 0.15, "hard_ad": 0.15},
    min_share={"service": 0.10, "user_interest": 0.10, "community": 0.10},
    max_self_promotion=0.25,
)


@dataclass(frozen=True)
class Finding:
    """One guideline check on a mix: what was measured, what is allowed, and the verdict in words."""

    rule: str
    measured: float
    limit: float
    penalty: float
    message: str

    def __str__(self) -> str:
        return self.message


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def weigh_mix(mix: Mapping[str, float], profile: GuidelineProfile = BALANCED) -> tuple[float, float, list[Finding]]:
    """Score a label mix (label → share, summing to 1) against ``profile``.

    Returns ``(score, value, findings)``: the 0-100 score, the average user value it starts
    from, and one :class:`Finding` per broken guideline (an empty list means none).
    """
    value = sum(share * profile.values.get(label, 0.0) for label, share in mix.items())
    findings: list[Finding] = []
    for label in LABELS:
        share = mix.get(label, 0.0)
        cap = profile.max_share.get(label)
        if cap is not None and share > cap + 1e-9:
            findings.append(Finding(
                f"max_share.{label}", share, cap, 100 * (share - cap),
                f"{_NAMES[label]} posts are {_pct(share)} of posts; the guideline caps them at {_pct(cap)}"))
        floor = profile.min_share.get(label)
        if floor is not None and share < floor - 1e-9:
            findings.append(Finding(
                f"min_share.{label}", share, floor, 50 * (floor - share),
                f"{_NAMES[label]} posts are {_pct(share)} of posts; the guideline asks for at least {_pct(floor)}"))
    self_promotion = mix.get("brand_news", 0.0) + mix.get("hard_ad", 0.0)
    if self_promotion > profile.max_self_promotion + 1e-9:
        already = sum(f.penalty for f in findings if f.rule in ("max_share.brand_news", "max_share.hard_ad"))
        findings.append(Finding(
            "max_self_promotion", self_promotion, profile.max_self_promotion,
            max(0.0, 100 * (self_promotion - profile.max_self_promotion) - already),
            f"brand news and hard ads together are {_pct(self_promotion)} of posts; the guideline keeps them "
            f"under {_pct(profile.max_self_promotion)} (followers scroll past an account that talks about itself)"))
    score = min(100.0, max(0.0, value - sum(f.penalty for f in findings)))
    return score, value, findings
