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
4. minus 5 points for every post beyond the longest run a label may have in a row
   (``max_consecutive``, e.g. four hard ads in a row when three are allowed: 5), at most 20;
5. minus 5 points for every selling post in a community's first weeks (``no_selling_weeks``),
   at most 20;
6. clipped to 0-100.

Two rules only flag, without points: a required label with no post at all (``requires``, e.g. an
account with customers that never serves them), and an account whose posts are almost all
about itself (``self_talk_only``). Profiles are TOML files (``profiles/*.toml`` ships
``balanced``, ``service``, ``ecommerce`` and ``community``); see :func:`load_profile`.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .labels import TAXONOMY

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["GuidelineProfile", "BALANCED", "Finding", "MixReport", "weigh_mix", "weigh_sequence", "weigh_posts", "recommend",
           "load_profile",
           "ProfileError"]

_NAMES = {label.id: label.name for label in TAXONOMY}


class ProfileError(ValueError):
    """A guideline profile that cannot be used: names the file, the key and what is wrong."""


@dataclass(frozen=True)
class GuidelineProfile:
    """A set of user-value guidelines.

    Attributes:
        name: short name of the profile.
        values: user value (0-100) of one post of each label.
        max_share: the largest share (0-1) a label should have.
        min_share: the smallest share (0-1) a label should have.
        max_self_promotion: the largest combined share of the ``self_promotion`` labels.
        self_promotion: the labels in which an account talks about itself (codebook: brand
            news and hard ads).
    """

    name: str
    values: Mapping[str, float]
    max_share: Mapping[str, float] = field(default_factory=dict)
    min_share: Mapping[str, float] = field(default_factory=dict)
    max_self_promotion: float = 1.0
    self_promotion: tuple[str, ...] = ("brand_news", "hard_ad")
    self_talk_only: float | None = None
    max_consecutive: Mapping[str, int] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    no_selling_weeks: int | None = None
    selling: tuple[str, ...] = ("hard_ad",)
    description: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the profile gives a value to."""
        return tuple(self.values)

    def to_dict(self) -> dict[str, Any]:
        """The profile in the shape of its TOML file (``from_dict`` reads it back)."""
        labels = {label: {"value": value, **({"max_share": self.max_share[label]} if label in self.max_share else {}),
                          **({"min_share": self.min_share[label]} if label in self.min_share else {})}
                  for label, value in self.values.items()}
        out: dict[str, Any] = {"name": self.name, "description": self.description,
                               "max_self_promotion": self.max_self_promotion,
                               "self_promotion": list(self.self_promotion), "selling": list(self.selling),
                               "max_consecutive": dict(self.max_consecutive), "requires": list(self.requires),
                               "labels": labels}
        if self.self_talk_only is not None:
            out["self_talk_only"] = self.self_talk_only
        if self.no_selling_weeks is not None:
            out["no_selling_weeks"] = self.no_selling_weeks
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "profile") -> "GuidelineProfile":
        """Build a profile from its TOML shape; raises :class:`ProfileError` naming ``where``, the key and the reason."""
        def fail(key: str, reason: str) -> ProfileError:
            return ProfileError(f"{where}: {key}: {reason}")

        def share(key: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise fail(key, f"must be a share between 0 and 1 (e.g. 0.15 for 15%), not {value!r}")
            return float(value)

        if not isinstance(data, Mapping):
            raise ProfileError(f"{where}: expected a table of settings")
        known = ("name", "description", "labels", "max_self_promotion", "self_promotion", "self_talk_only",
                 "max_consecutive", "requires", "no_selling_weeks", "selling")
        unknown = set(data) - set(known)
        if unknown:
            raise fail(sorted(unknown)[0], f"unknown setting (known: {', '.join(known)})")
        name = data.get("name", Path(where).stem)
        if not isinstance(name, str) or not name:
            raise fail("name", "must be a non-empty string")
        labels = data.get("labels")
        if not isinstance(labels, Mapping) or not labels:
            raise fail("labels", "missing: give each label a table, e.g. [labels.service] value = 100")
        values: dict[str, float] = {}
        max_share: dict[str, float] = {}
        min_share: dict[str, float] = {}
        for label, rules in labels.items():
            key = f"labels.{label}"
            if not isinstance(rules, Mapping):
                raise fail(key, "must be a table with at least a value, e.g. [labels.service] value = 100")
            extra = set(rules) - {"value", "max_share", "min_share"}
            if extra:
                raise fail(f"{key}.{sorted(extra)[0]}", "unknown setting (known: value, max_share, min_share)")
            value = rules.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise fail(f"{key}.value", f"must be a user value from 0 to 100, not {value!r}")
            values[label] = float(value)
            if "max_share" in rules:
                max_share[label] = share(f"{key}.max_share", rules["max_share"])
            if "min_share" in rules:
                min_share[label] = share(f"{key}.min_share", rules["min_share"])
            if min_share.get(label, 0.0) > max_share.get(label, 1.0):
                raise fail(key, f"min_share {min_share[label]} is above max_share {max_share[label]}")
        if sum(min_share.values()) > 1 + 1e-9:
            raise fail("labels", f"the min_share values add up to {sum(min_share.values()):.2f}, more than 1")
        def label_list(key: str, default: list[str]) -> tuple[str, ...]:
            value = data.get(key, default)
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise fail(key, "must be a list of label names")
            missing = [x for x in value if x not in values]
            if missing:
                raise fail(key, f"{missing[0]!r} is not one of the profile's labels ({', '.join(values)})")
            return tuple(value)

        def count(key: str, value: Any) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise fail(key, f"must be a whole number of 0 or more, not {value!r}")
            return value

        promo = label_list("self_promotion", [x for x in ("brand_news", "hard_ad") if x in values])
        runs = data.get("max_consecutive", {})
        if not isinstance(runs, Mapping):
            raise fail("max_consecutive", "must be a table of label = longest run, e.g. { hard_ad = 3 }")
        for label in runs:
            if label not in values:
                raise fail(f"max_consecutive.{label}", f"not one of the profile's labels ({', '.join(values)})")
        talk = data.get("self_talk_only")
        weeks = data.get("no_selling_weeks")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise fail("description", "must be a string")
        return cls(name, values, max_share, min_share,
                   share("max_self_promotion", data.get("max_self_promotion", 1.0)), promo,
                   None if talk is None else share("self_talk_only", talk),
                   {label: count(f"max_consecutive.{label}", n) for label, n in runs.items()},
                   label_list("requires", []),
                   None if weeks is None else count("no_selling_weeks", weeks),
                   label_list("selling", [x for x in ("hard_ad",) if x in values]), description)

    def value_of(self, probabilities: Mapping[str, float]) -> float:
        """Expected user value (0-100) of one post given its label probabilities."""
        return sum(p * self.values.get(label, 0.0) for label, p in probabilities.items())

    def values_of(self, labels: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
        """:meth:`value_of` for many posts at once: ``probabilities`` has one column per label, rounded to 0.1."""
        weights = np.array([self.values.get(label, 0.0) for label in labels])
        return np.round(np.asarray(probabilities) @ weights, 1)


def load_profile(profile: str | Path) -> GuidelineProfile:
    """A shipped profile by name (``"balanced"``) or a profile TOML file by path.

    Raises :class:`ProfileError` naming the file, the key and what is wrong.
    """
    shipped = resources.files("postlens") / "profiles" / f"{profile}.toml"
    path = Path(str(shipped)) if "/" not in str(profile) and shipped.is_file() else Path(profile)
    if not path.is_file():
        names = sorted(p.name[:-5] for p in resources.files("postlens").joinpath("profiles").iterdir()
                       if p.name.endswith(".toml"))
        raise ProfileError(f"{profile}: no such profile file (shipped profiles: {', '.join(names)})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: not a valid TOML file ({exc})") from None
    return GuidelineProfile.from_dict(data, str(path))


#: The default profile: an account that serves followers, with a little room for news and sales.
BALANCED = load_profile("balanced")


@dataclass(frozen=True)
class Finding:
    """One broken guideline: the rule, what was measured, what is allowed, its cost, in words.

    Attributes:
        rule: the rule's key in the profile (``max_share.hard_ad``, ``max_consecutive.hard_ad``, ...).
        measured: the measured value (a share, a run length, a number of posts).
        limit: the limit it broke.
        penalty: points taken off the score (0 for rules that only flag).
        message: the finding in plain words.
        allowed: the allowed range in words (``"at most 15%"``).
        examples: posts that show it. From :func:`weigh_sequence`: 0-based positions in the order
            given; in a :class:`MixReport`: the posts' numbers as its recommendations name them
            (``#1``, ``#2``, ... in the order assessed, or the archive's row numbers in a report).
    """

    rule: str
    measured: float
    limit: float
    penalty: float
    message: str
    allowed: str = ""
    examples: tuple[int, ...] = ()

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "measured": round(self.measured, 4), "limit": self.limit, "allowed": self.allowed,
                "penalty": round(self.penalty, 2), "message": self.message, "examples": list(self.examples)}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _name(label: str, plural: bool = False) -> str:
    name = _NAMES.get(label, label)
    return name + "s" if plural and label == "hard_ad" else name


def weigh_mix(mix: Mapping[str, float], profile: GuidelineProfile = BALANCED) -> tuple[float, float, list[Finding]]:
    """Score a label mix (label → share, summing to 1) against ``profile``'s share rules.

    Returns ``(score, value, findings)``: the 0-100 score, the average user value it starts
    from, and one :class:`Finding` per broken guideline (an empty list means none). The rules
    on the order of posts are :func:`weigh_sequence`'s.
    """
    value = sum(share * profile.values.get(label, 0.0) for label, share in mix.items())
    findings: list[Finding] = []
    for label in dict.fromkeys([*profile.values, *mix]):
        share, name = mix.get(label, 0.0), _name(label)
        cap = profile.max_share.get(label)
        if cap is not None and share > cap + 1e-9:
            findings.append(Finding(
                f"max_share.{label}", share, cap, 100 * (share - cap),
                f"{name} posts are {_pct(share)} of posts; the guideline caps them at {_pct(cap)}", f"at most {_pct(cap)}"))
        floor = profile.min_share.get(label)
        if floor is not None and share < floor - 1e-9:
            findings.append(Finding(
                f"min_share.{label}", share, floor, 50 * (floor - share),
                f"{name} posts are {_pct(share)} of posts; the guideline asks for at least {_pct(floor)}",
                f"at least {_pct(floor)}"))
    self_promotion = sum(mix.get(label, 0.0) for label in profile.self_promotion)
    names = " and ".join(_name(label, plural=True) for label in profile.self_promotion)
    if self_promotion > profile.max_self_promotion + 1e-9:
        caps = {f"max_share.{label}" for label in profile.self_promotion}
        already = sum(f.penalty for f in findings if f.rule in caps)
        findings.append(Finding(
            "max_self_promotion", self_promotion, profile.max_self_promotion,
            max(0.0, 100 * (self_promotion - profile.max_self_promotion) - already),
            f"{names} together are {_pct(self_promotion)} of posts; the guideline keeps them "
            f"under {_pct(profile.max_self_promotion)} (followers scroll past an account that talks about itself)",
            f"at most {_pct(profile.max_self_promotion)}"))
    if profile.self_talk_only is not None and self_promotion >= profile.self_talk_only - 1e-9 and mix:
        findings.append(Finding(
            "self_talk_only", self_promotion, profile.self_talk_only, 0.0,
            f"the account only talks about itself: {_pct(self_promotion)} of its posts are {names}",
            f"under {_pct(profile.self_talk_only)}"))
    for label in profile.requires:
        if mix and mix.get(label, 0.0) <= 0.0:
            findings.append(Finding(
                f"requires.{label}", 0.0, 0.0, 0.0,
                f"there are no {_name(label)} posts: an account with customers should serve them", "at least one post"))
    score = min(100.0, max(0.0, value - sum(f.penalty for f in findings)))
    return score, value, findings


def _runs(labels: Sequence[str], label: str) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of consecutive ``label`` posts."""
    runs, start = [], None
    for i, x in enumerate([*labels, None]):
        if x == label and start is None:
            start = i
        elif x != label and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def weigh_sequence(labels: Sequence[str], profile: GuidelineProfile = BALANCED,
                   weeks: Sequence[float | None] | None = None) -> list[Finding]:
    """The rules on the order of posts: runs of one label in a row, and selling in a community's first weeks.

    ``labels`` are in publishing order; ``weeks`` (optional, same order) is each post's time in
    weeks since any fixed point (``None`` where unknown). Without times, the first-weeks rule is
    not checked.
    """
    findings: list[Finding] = []
    for label, longest in profile.max_consecutive.items():
        over = [(start, n) for start, n in _runs(labels, label) if n > longest]
        if over:
            worst = max(over, key=lambda r: r[1])
            excess = sum(n - longest for _, n in over)
            findings.append(Finding(
                f"max_consecutive.{label}", float(worst[1]), float(longest), min(20.0, 5.0 * excess),
                f"{len(over)} run{'s' if len(over) > 1 else ''} of more than {longest} {_name(label, plural=True)} in a "
                f"row; the longest is {worst[1]} (posts #{worst[0] + 1} to #{worst[0] + worst[1]})",
                f"at most {longest} in a row", tuple(range(worst[0], worst[0] + worst[1]))))
    if profile.no_selling_weeks is not None and weeks is not None:
        known = [w for w in weeks if w is not None]
        if known:
            first = min(known)
            early = [i for i, (x, w) in enumerate(zip(labels, weeks))
                     if x in profile.selling and w is not None and w - first < profile.no_selling_weeks]
            if early:
                findings.append(Finding(
                    "no_selling_weeks", float(len(early)), 0.0, min(20.0, 5.0 * len(early)),
                    f"{len(early)} selling post{'s' if len(early) > 1 else ''} in the community's first "
                    f"{profile.no_selling_weeks} weeks; its first weeks should carry no selling",
                    f"none in the first {profile.no_selling_weeks} weeks", tuple(early)))
    return findings


_HOW = {  # what a post of the label a profile wants more of could be, said of an existing post
    "service": "a how-to or an answer to a common question about what post {n} sells",
    "user_interest": "a story, tips or background on the subject of post {n}, without the sales pitch",
    "community": "a question, a poll or a challenge for followers around the subject of post {n}",
    "brand_news": "a short note on the news behind post {n}",
    "hard_ad": "an offer built on post {n}",
}


def _count(n: float) -> str:
    return f"{n:.0f}" if n >= 1 or n == 0 else "1"


def recommend(findings: Sequence[Finding], labels: Sequence[str], proba: np.ndarray, classes: Sequence[str],
              profile: GuidelineProfile, numbers: Sequence[int] | None = None,
              n_weeks: float | None = None) -> list[str]:
    """Concrete recommendations for ``findings``, with example posts.

    ``labels`` are the posts' labels (in the order assessed), ``proba`` their probabilities
    (columns in ``classes`` order), ``numbers`` how to call each post (default ``#1``, ``#2``
    ...), ``n_weeks`` the time the posts span (then counts are also said per week).
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(labels) + 1))
    col = {c: j for j, c in enumerate(classes)}
    n = len(labels)
    weekly = n_weeks is not None and n_weeks >= 4 and n / n_weeks >= 2
    short = {f.rule.split(".", 1)[1] for f in findings if f.rule.startswith("min_share.")}
    wanted = sorted((x for x in profile.values if x not in profile.self_promotion),
                    key=lambda x: (x not in short, -profile.values[x]))

    def closest(pool: list[int], label: str) -> int | None:
        """The post of ``pool`` most like a ``label`` post (highest probability of ``label``)."""
        if not pool or label not in col:
            return None
        return max(pool, key=lambda i: (proba[i, col[label]], -i))

    out: list[str] = []
    for f in sorted(findings, key=lambda f: -f.penalty):  # the costliest first
        kind, _, label = f.rule.partition(".")
        if kind == "max_share":
            have = [i for i, x in enumerate(labels) if x == label]
            cut = max(1, math.ceil((f.measured - f.limit) * n - 1e-9))
            target = wanted[0] if wanted else None
            example = closest(have, target) if target else None
            how = f": e.g. {_HOW.get(target, 'a ' + str(target) + ' post from post {n}').format(n=f'#{numbers[example]}')}" \
                if example is not None else ""
            if weekly and len(have) / n_weeks >= 2 and cut / n_weeks >= 0.75:
                out.append(f"replace {_count(cut / n_weeks)} of the {_count(len(have) / n_weeks)} weekly "
                           f"{_name(label, plural=True)} with {_name(target, plural=True)} posts{how}")
            else:
                out.append(f"replace {cut} of the {len(have)} {_name(label, plural=True)} with "
                           f"{_name(target, plural=True)} posts{how}")
        elif kind == "min_share":
            add = max(1, math.ceil((f.limit - f.measured) * n - 1e-9))
            example = closest([i for i, x in enumerate(labels) if x != label], label)
            how = f": e.g. {_HOW.get(label, 'turn post {n} into one').format(n=f'#{numbers[example]}')}" \
                if example is not None else ""
            per = f" (about {_count(add / n_weeks)} a week)" if weekly else ""
            out.append(f"add {add} {_name(label)} post{'s' if add > 1 else ''}{per}{how}")
        elif f.rule == "max_self_promotion" and f.penalty > 0:
            cut = max(1, math.ceil((f.measured - f.limit) * n - 1e-9))
            out.append(f"publish {cut} fewer posts about the account itself ("
                       + " and ".join(_name(x, plural=True) for x in profile.self_promotion)
                       + ") and put what followers can use in their place")
        elif f.rule == "self_talk_only":
            out.append("start from what followers ask and care about: answers, tips and questions to them; "
                       "keep news about the account for what changes something for them")
        elif kind == "requires":
            out.append(f"give {_name(label)} posts a place: answer the questions followers ask most "
                       "(orders, delivery, how to use, opening hours) in posts of their own")
        elif kind == "max_consecutive":
            first, last = f.examples[0], f.examples[-1]
            out.append(f"break up the run of {len(f.examples)} {_name(label, plural=True)} from post "
                       f"#{numbers[first]} to #{numbers[last]} with "
                       + " or ".join(f"{_name(x)}" for x in wanted[:2]) + " posts in between")
        elif f.rule == "no_selling_weeks":
            shown = ", ".join(f"#{numbers[i]}" for i in f.examples[:5]) + (" …" if len(f.examples) > 5 else "")
            out.append(f"move the {len(f.examples)} selling posts of the first {profile.no_selling_weeks} weeks "
                       f"({shown}) later, and open the community with posts that invite members to take part")
    return out


@dataclass(frozen=True)
class MixReport:
    """An account's posts weighed against a guideline profile.

    Attributes:
        n_posts: number of posts assessed.
        mix: label → share of posts (hard counts of the most likely labels; sums to 1).
        expected_mix: label → mean probability over the posts (the mix the model expects,
            counting its doubt).
        mix_range: label → (low, high), a 95% range of the share given the probabilities.
        score: 0-100, how well the posts follow the profile.
        user_value: the average user value of the posts (the score before penalties).
        steps: how the score was computed: (what, points), from the value to the score.
        findings: the guidelines the posts break, each with rule, measurement, allowed range, examples.
        recommendations: concrete changes, with example posts.
        profile: name of the guideline profile used.
    """

    n_posts: int
    mix: dict[str, float]
    score: float
    user_value: float
    findings: tuple[Finding, ...] = ()
    profile: str = "balanced"
    expected_mix: dict[str, float] = field(default_factory=dict)
    mix_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    steps: tuple[tuple[str, float], ...] = ()
    recommendations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"n_posts": self.n_posts, "profile": self.profile, "score": self.score, "user_value": self.user_value,
                "mix": {k: round(v, 4) for k, v in self.mix.items()},
                "expected_mix": {k: round(v, 4) for k, v in self.expected_mix.items()},
                "mix_range": {k: [round(a, 4), round(b, 4)] for k, (a, b) in self.mix_range.items()},
                "steps": [{"what": what, "points": round(points, 2)} for what, points in self.steps],
                "findings": [f.to_dict() for f in self.findings], "recommendations": list(self.recommendations)}

    def format(self) -> str:
        """The report as plain text for a terminal."""
        lines = [f"{self.n_posts} posts, profile {self.profile!r}: score {self.score:.0f}/100 "
                 f"(average user value {self.user_value:.0f})", "", "mix (share of posts; 95% range from the probabilities):"]
        for label, share in sorted(self.mix.items(), key=lambda kv: -kv[1]):
            low, high = self.mix_range.get(label, (share, share))
            lines.append(f"  {label:<16}{share:>6.0%}   ({low:.0%}–{high:.0%})")
        lines += ["", "how the score was computed:"]
        lines += [f"  {points:+7.1f}  {what}" for what, points in self.steps]
        if self.findings:
            lines += ["", "findings:"] + [f"  - {f.message} (allowed: {f.allowed})" if f.allowed else f"  - {f.message}"
                                          for f in self.findings]
        if self.recommendations:
            lines += ["", "recommendations:"] + [f"  - {r}" for r in self.recommendations]
        return "\n".join(lines)


def weigh_posts(labels: Sequence[str], proba: np.ndarray, classes: Sequence[str],
                profile: GuidelineProfile = BALANCED, weeks: Sequence[float | None] | None = None,
                numbers: Sequence[int] | None = None) -> MixReport:
    """Weigh posts (their labels and probabilities, in publishing order) against ``profile``.

    ``weeks``: each post's time in weeks (for the first-weeks rule and weekly counts);
    ``numbers``: how recommendations name each post (default ``#1``, ``#2``, ...).
    """
    n = len(labels)
    classes = [str(c) for c in classes]
    if n == 0:
        return MixReport(0, {c: 0.0 for c in dict.fromkeys([*classes, *profile.values])}, 0.0, 0.0,
                         (Finding("n_posts", 0.0, 1.0, 0.0, "there are no posts to assess", "at least one post"),),
                         profile.name, steps=(("no posts", 0.0),))
    proba = np.asarray(proba, dtype=np.float64)
    counts: dict[str, int] = {}
    for x in labels:
        counts[x] = counts.get(x, 0) + 1
    mix = {label: counts.get(label, 0) / n for label in dict.fromkeys([*classes, *profile.values, *counts])}
    expected = proba.mean(axis=0)
    half = 1.96 * np.sqrt((proba * (1 - proba)).sum(axis=0)) / n
    expected_mix = {c: float(e) for c, e in zip(classes, expected)}
    mix_range = {c: (float(max(0.0, e - h)), float(min(1.0, e + h))) for c, e, h in zip(classes, expected, half)}
    _, value, findings = weigh_mix(mix, profile)
    for label in counts:
        if label not in profile.values:
            findings.append(Finding(
                f"unknown_label.{label}", mix[label], 0.0, 0.0,
                f"{counts[label]} posts are labelled {label!r}, which profile {profile.name!r} gives no user value "
                "(counted as 0); use a profile written for this model's labels", "a label the profile knows"))
    col = {c: j for j, c in enumerate(classes)}

    def confident(of: Sequence[str], k: int = 3) -> tuple[int, ...]:
        pool = [i for i, x in enumerate(labels) if x in of]
        pool.sort(key=lambda i: (-proba[i, col[labels[i]]] if labels[i] in col else 0.0, i))
        return tuple(pool[:k])

    def shown(f: Finding) -> tuple[int, ...]:
        """Posts that show a finding on shares: the most confident posts of its label(s)."""
        if f.rule.startswith(("max_share.", "unknown_label.")):
            return confident([f.rule.split(".", 1)[1]])
        return confident(profile.self_promotion) if f.rule in ("max_self_promotion", "self_talk_only") else f.examples

    findings = [dataclasses.replace(f, examples=shown(f)) for f in findings]
    findings += weigh_sequence(labels, profile, weeks)
    penalties = [(f.message, -f.penalty) for f in findings if f.penalty > 0]
    raw = value + sum(p for _, p in penalties)
    score = min(100.0, max(0.0, raw))
    steps = [("average user value of the posts", value), *penalties]
    if score != raw:
        steps.append(("clipped to 0-100", score - raw))
    known = [w for w in (weeks or []) if w is not None]
    n_weeks = (max(known) - min(known) + 1 / 7) if known else None
    recs = recommend(findings, labels, proba, classes, profile, numbers, n_weeks)
    named = list(numbers) if numbers is not None else list(range(1, n + 1))
    findings = [dataclasses.replace(f, examples=tuple(named[i] for i in f.examples)) for f in findings]
    return MixReport(n, mix, round(score, 1), round(value, 1), tuple(findings), profile.name, expected_mix, mix_range,
                     tuple((what, round(points, 2)) for what, points in steps), tuple(recs))
