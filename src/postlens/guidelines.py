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
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from .labels import TAXONOMY

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["GuidelineProfile", "BALANCED", "Finding", "MixReport", "weigh_mix", "weigh_sequence", "weigh_posts", "recommend",
           "load_profile", "resolve_profile", "ProfileLike",
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


def _shipped_profiles() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("postlens").joinpath("profiles").iterdir()
                  if p.name.endswith(".toml"))


def _profile_path(profile: str | os.PathLike) -> Path:
    """The TOML file ``profile`` names: a shipped profile's, or the path itself."""
    shipped = resources.files("postlens") / "profiles" / f"{profile}.toml"
    path = Path(str(shipped)) if "/" not in str(profile) and shipped.is_file() else Path(profile)
    if not str(profile).strip() or not path.is_file():
        raise ProfileError(f"{profile!s}: no such profile file (shipped profiles: {', '.join(_shipped_profiles())})")
    return path


def load_profile(profile: str | os.PathLike) -> GuidelineProfile:
    """A shipped profile by name (``"balanced"``) or a profile TOML file by path.

    Raises :class:`ProfileError` naming the file, the key and what is wrong.
    """
    return _read_profile(_profile_path(profile))


#: What the ``profile`` argument of every entry point takes: a :class:`GuidelineProfile`, a
#: shipped profile's name (``"ecommerce"``), a profile TOML file's path, or ``None`` (the model's own).
ProfileLike = Union["GuidelineProfile", str, os.PathLike, None]


def resolve_profile(profile: ProfileLike) -> GuidelineProfile | None:
    """The profile ``profile`` means (``None`` stays ``None``: the model's own). A name or path is read
    with :func:`load_profile`, once per file version. Raises :class:`ProfileError` for a name or file
    that is not a sound profile, ``TypeError`` for anything else."""
    if profile is None or isinstance(profile, GuidelineProfile):
        return profile
    if not isinstance(profile, (str, os.PathLike)):
        raise TypeError(f"profile must be a GuidelineProfile, a shipped profile's name "
                        f"({', '.join(_shipped_profiles())}) or a profile TOML file's path; got {type(profile).__name__}")
    path = _profile_path(profile)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror or exc})") from None
    return _read_profile_once(str(path), str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_profile_once(path: str, resolved: str, mtime_ns: int, size: int) -> GuidelineProfile:
    return _read_profile(Path(path))


def _read_profile(path: Path) -> GuidelineProfile:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: not a valid TOML file ({exc})") from None
    except RecursionError:
        raise ProfileError(f"{path}: not a valid TOML file (arrays or tables nested too deeply); "
                           "a profile is a flat table of settings") from None
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
        examples: posts that show it, as its message and the recommendations name them: 0-based
            positions in the list assessed (``post #0`` is the first), or in an account report the
            archive's row numbers (``row 1`` is the first row after the header).
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


def _plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 post"``, ``"2 posts"``: a count with its noun."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _in_order(labels: Sequence[str]) -> list[str]:
    """``labels`` without repeats, codebook labels first in codebook order, then others by name.

    What a report says must not depend on the order of a profile's or a mix's dict (a profile
    stored with a model is read back with its keys sorted)."""
    order = {label.id: i for i, label in enumerate(TAXONOMY)}
    return sorted(dict.fromkeys(labels), key=lambda x: (order.get(x, len(order)), x))


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
    for label in _in_order([*profile.values, *mix]):  # the same findings, in the same order, whatever the dicts' order
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


@dataclass(frozen=True)
class _Names:
    """How a report names posts: by ``numbers[i]``, as ``post #3`` (a position in a list) or ``row 3`` (an archive's row)."""

    numbers: Sequence[int]
    rows: bool = False

    def one(self, i: int) -> str:
        return f"row {self.numbers[i]}" if self.rows else f"post #{self.numbers[i]}"

    def several(self, idx: Sequence[int]) -> str:
        """``posts #3, #4 and #5`` / ``rows 3 to 5`` (consecutive numbers) / ``rows 3, 9, 12, 15, 20 … 41`` (long)."""
        nums = [self.numbers[i] for i in idx]
        mark = "" if self.rows else "#"
        head = ("row" if self.rows else "post") + ("s" if len(nums) > 1 else "")
        if len(nums) > 2 and nums == list(range(nums[0], nums[0] + len(nums))):
            return f"{head} {mark}{nums[0]} to {mark}{nums[-1]}"
        shown = [f"{mark}{x}" for x in nums]
        if len(shown) > 6:
            return f"{head} {', '.join(shown[:5])} … {shown[-1]} ({len(shown)} posts)"
        return f"{head} " + (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0])


def _sequence(labels: Sequence[str], profile: GuidelineProfile, weeks: Sequence[float | None] | None,
              names: _Names) -> list[Finding]:
    findings: list[Finding] = []
    for label, longest in profile.max_consecutive.items():
        over = [(start, n) for start, n in _runs(labels, label) if n > longest]
        if over:
            worst = max(over, key=lambda r: r[1])
            excess = sum(n - longest for _, n in over)
            run = tuple(range(worst[0], worst[0] + worst[1]))
            findings.append(Finding(
                f"max_consecutive.{label}", float(worst[1]), float(longest), min(20.0, 5.0 * excess),
                f"{_plural(len(over), 'run')} of more than {_posts(label, longest)} in a row; the "
                f"longest is {worst[1]} ({names.several(run)})",
                f"at most {longest} in a row", run))
    if profile.no_selling_weeks is not None and weeks is not None:
        known = [w for w in weeks if w is not None]
        if known:
            first = min(known)
            early = [i for i, (x, w) in enumerate(zip(labels, weeks))
                     if x in profile.selling and w is not None and w - first < profile.no_selling_weeks]
            if early:
                findings.append(Finding(
                    "no_selling_weeks", float(len(early)), 0.0, min(20.0, 5.0 * len(early)),
                    f"{_plural(len(early), 'selling post')} in the community's first "
                    f"{profile.no_selling_weeks} weeks; its first weeks should carry no selling",
                    f"none in the first {profile.no_selling_weeks} weeks", tuple(early)))
    return findings


def weigh_sequence(labels: Sequence[str], profile: GuidelineProfile = BALANCED,
                   weeks: Sequence[float | None] | None = None) -> list[Finding]:
    """The rules on the order of posts: runs of one label in a row, and selling in a community's first weeks.

    ``labels`` are in publishing order; ``weeks`` (optional, same order) is each post's time in
    weeks since any fixed point (``None`` where unknown). Without times, the first-weeks rule is
    not checked. Posts are named by their 0-based position in ``labels`` (``post #0`` is the
    first), in the messages as in ``examples``.
    """
    return _sequence(labels, profile, weeks, _Names(range(len(labels))))


#: What a post of a label a profile wants more of could be, said of an existing post ``{ref}``:
#: (said of a selling post, said of any other post). Only a selling post "sells" something.
_HOW = {
    "service": ("a how-to or an answer to a common question about what {ref} sells",
                "a how-to or an answer to a question followers ask about the subject of {ref}"),
    "user_interest": ("a story, tips or background on the subject of {ref}, without the sales pitch",
                      "a story, tips or background on the subject of {ref}, told for followers rather than "
                      "about the account"),
    "community": ("a question, a poll or a challenge for followers around the subject of {ref}",) * 2,
    "brand_news": ("a short note on the news behind {ref}",) * 2,
    "hard_ad": ("an offer built on {ref}",) * 2,
}


def _posts(label: str, n: int, count: bool = True) -> str:
    """``"1 hard ad"``, ``"3 hard ads"``, ``"1 brand news post"``, ``"2 community posts"`` (without the number: ``count=False``)."""
    noun = ("hard ad" if n == 1 else "hard ads") if label == "hard_ad" else f"{_name(label)} post{'' if n == 1 else 's'}"
    return f"{n:,} {noun}" if count else noun


def _count(n: float) -> str:
    return f"{n:.0f}" if n >= 1 or n == 0 else "1"


def recommend(findings: Sequence[Finding], labels: Sequence[str], proba: np.ndarray, classes: Sequence[str],
              profile: GuidelineProfile, numbers: Sequence[int] | None = None,
              n_weeks: float | None = None, rows: bool = False) -> list[str]:
    """Concrete recommendations for ``findings`` (as :func:`weigh_mix` and :func:`weigh_sequence` give
    them, ``examples`` being positions), with example posts.

    ``labels`` are the posts' labels (in the order assessed), ``proba`` their probabilities
    (columns in ``classes`` order), ``numbers`` what to call each post (default: its 0-based
    position), ``rows`` whether those are an archive's row numbers (``row 12``, else ``post #12``),
    ``n_weeks`` the time the posts span (then counts are also said per week).

    The recommendations add up: each counts posts on top of the ones before it, none counts a post
    another one already counts (a post replaced by a community post also counts towards the
    community posts the profile asks for; the self-promotion cap asks only for what the per-label
    caps leave). What they say depends only on the posts, their labels and probabilities (rounded
    to 4 places, as files hold them) and the profile's settings, not on the order of its keys.
    """
    n = len(labels)
    if n == 0:
        return []
    names = _Names(list(numbers) if numbers is not None else list(range(n)), rows)
    col = {c: j for j, c in enumerate(classes)}
    p = np.round(np.asarray(proba, dtype=np.float64), 4)
    counts = {x: 0 for x in profile.values}
    for x in labels:
        counts[x] = counts.get(x, 0) + 1
    weekly = n_weeks is not None and n_weeks >= 4 and n / n_weeks >= 2
    need: dict[str, int] = {}  # posts each label is short of its floor
    for f in findings:
        kind, _, label = f.rule.partition(".")
        if kind == "min_share":
            need[label] = max(1, math.ceil((f.limit - f.measured) * n - 1e-9))
    asked = dict(need)
    high = [x for x in _in_order(profile.values) if x not in profile.self_promotion]  # what replaced posts become
    brought: dict[str, int] = {}  # label → posts the replacements bring

    used: set[int] = set()  # posts already named as an example

    def targets(cut: int) -> list[tuple[str, int]]:
        """What ``cut`` replaced posts should become, one post at a time: the label most short of its
        floor, else the most valued label with the fewest posts (counting those already brought)."""
        out: dict[str, int] = {}
        for _ in range(cut if high else 0):
            short = [x for x in high if need.get(x, 0) > 0]
            to = (min(short, key=lambda x: (-need[x], -profile.values[x], counts.get(x, 0), x)) if short else
                  min(high, key=lambda x: (-profile.values[x], counts.get(x, 0) + brought.get(x, 0), x)))
            need[to] = max(0, need.get(to, 0) - 1)
            brought[to] = brought.get(to, 0) + 1
            out[to] = out.get(to, 0) + 1
        return sorted(out.items(), key=lambda kv: -kv[1])  # the most first (a stable sort: the first chosen on a tie)

    def example(pool: Sequence[int], label: str) -> int | None:
        """The post of ``pool`` most like a ``label`` post (highest probability of ``label``; the earliest on a
        tie), preferring one no recommendation has named yet."""
        if not pool or label not in col:
            return None
        i = min(pool, key=lambda i: (i in used, -p[i, col[label]], i))
        used.add(i)
        return i

    def how(i: int | None, label: str) -> str:
        if i is None:
            return ""
        forms = _HOW.get(label, (f"a {_posts(label, 1, count=False)} built on {{ref}}",) * 2)
        return ": e.g. " + forms[0 if labels[i] in profile.selling else 1].format(ref=names.one(i))

    def replace(label: str, cut: int, have: list[int], more: str = "") -> str:
        """``replace 4 of the 9 hard ads with service posts: e.g. ...`` (and count what the targets gain)."""
        into = targets(cut)
        if cut >= len(have):
            what = f"the {_posts(label, len(have))}" if len(have) == 1 else f"all {_posts(label, len(have))}"
        else:
            what = f"{cut:,}{more} of the {_posts(label, len(have))}"
        if weekly and not more and len(have) / n_weeks >= 2 and cut / n_weeks >= 0.75:
            what = (f"{_count(cut / n_weeks)} of the {_count(len(have) / n_weeks)} weekly "
                    f"{_posts(label, 2, count=False)} ({cut:,} of {len(have):,} in all)")
        if not into:
            return f"drop {what}"
        if len(into) == 1:
            with_what = f"a {_posts(into[0][0], 1, count=False)}" if cut == 1 else _posts(into[0][0], 2, count=False)
        else:
            parts = [_posts(x, k) for x, k in into]
            with_what = ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"replace {what} with {with_what}{how(example(have, into[0][0]), into[0][0])}"

    out: list[str] = []
    cut_of: dict[str, int] = {}
    caps = [f for f in findings if f.rule.startswith("max_share.")]
    for f in sorted(caps, key=lambda f: -f.penalty):  # the costliest first (a stable sort: label order on a tie)
        label = f.rule.split(".", 1)[1]
        have = [i for i, x in enumerate(labels) if x == label]
        cut = min(len(have), max(1, math.ceil((f.measured - f.limit) * n - 1e-9)))
        cut_of[label] = cut
        out.append(replace(label, cut, have))
    promo = next((f for f in findings if f.rule == "max_self_promotion"), None)
    if promo is not None:
        total = max(1, math.ceil((promo.measured - promo.limit) * n - 1e-9))
        done = sum(cut_of.get(x, 0) for x in profile.self_promotion)
        extra = total - done
        together = " and ".join(_posts(x, 2, count=False) for x in _in_order(profile.self_promotion))
        for label in sorted(_in_order(profile.self_promotion), key=lambda x: profile.values.get(x, 0.0)):
            # what is left to cut comes from the least valued self-promotion label first
            have = [i for i, x in enumerate(labels) if x == label]
            left = len(have) - cut_of.get(label, 0)
            k = min(extra, left)
            if k <= 0:
                continue
            text = replace(label, k, have, more=" more" if done else "")
            why = (f"so that {together} together stay within {_pct(promo.limit)} "
                   + (f"({total:,} fewer in all, counting the {done:,} above)" if done else "of posts"))
            head, sep, tail = text.partition(": e.g. ")
            out.append(f"{head}, {why}{sep}{tail}")
            extra -= k
            done += k
    for label in _in_order(need):
        k = need[label]
        if k <= 0:
            continue
        ex = example([i for i, x in enumerate(labels) if x != label], label)
        per = f" (about {_count(k / n_weeks)} a week)" if weekly else ""
        besides = f" besides the {brought[label]:,} the replacements above bring" if brought.get(label) else ""
        out.append(f"add {_posts(label, k)}{besides}{per}{how(ex, label)}")
    movable = sorted(high, key=lambda x: (-counts.get(x, 0), x))[:2]
    for f in findings:
        kind, _, label = f.rule.partition(".")
        if kind == "max_consecutive":
            between = " or ".join(_posts(x, 2, count=False) for x in movable if counts.get(x, 0)) or "other posts"
            replaced = " (or make them among the ones replaced above)" if cut_of.get(label) else ""
            out.append(f"break up the run of {_posts(label, len(f.examples))} ({names.several(f.examples)}): publish "
                       f"{between} in between{replaced}; this changes the order of the posts, not how many there are")
        elif f.rule == "no_selling_weeks":
            out.append(f"move the {_plural(len(f.examples), 'selling post')} of the first {profile.no_selling_weeks} "
                       f"weeks ({names.several(f.examples)}) later, and open the community with posts that invite "
                       "members to take part; this changes the order of the posts, not how many there are")
    for f in findings:
        kind, _, label = f.rule.partition(".")
        if kind == "requires" and not asked.get(label) and not brought.get(label):
            out.append(f"give {_posts(label, 2, count=False)} a place: answer the questions followers ask most "
                       "(orders, delivery, how to use, opening hours) in posts of their own")
        elif f.rule == "self_talk_only":
            out.append("above all, start from what followers ask and care about: answers, tips and questions to them; "
                       "keep news about the account for what changes something for them")
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
        lines = [f"{_plural(self.n_posts, 'post')}, profile {self.profile!r}: score {self.score:.0f}/100 "
                 f"(average user value {self.user_value:.0f})", "",
                 "mix: the share of posts by their most likely label, and the share the probabilities expect "
                 "with its 95% range:",
                 f"  {'label':<16}{'share':>6}   {'expected (95% range)':<20}"]
        for label, share in sorted(self.mix.items(), key=lambda kv: -kv[1]):
            expected = self.expected_mix.get(label, share)
            low, high = self.mix_range.get(label, (expected, expected))
            lines.append(f"  {label:<16}{share:>6.0%}   {expected:>4.0%} ({low:.0%}–{high:.0%})")
        lines += ["", "how the score was computed:"]
        lines += [f"  {points:+7.1f}  {what}" for what, points in self.steps]
        if self.findings:
            lines += ["", "findings:"] + [f"  - {f.message} (allowed: {f.allowed})" if f.allowed else f"  - {f.message}"
                                          for f in self.findings]
        if self.recommendations:
            lines += ["", "recommendations (they add up: none counts a post another one already counts):"]
            lines += [f"  - {r}" for r in self.recommendations]
        return "\n".join(lines)


def weigh_posts(labels: Sequence[str], proba: np.ndarray, classes: Sequence[str],
                profile: GuidelineProfile = BALANCED, weeks: Sequence[float | None] | None = None,
                numbers: Sequence[int] | None = None, rows: bool = False) -> MixReport:
    """Weigh posts (their labels and probabilities, in publishing order) against ``profile``.

    ``weeks``: each post's time in weeks (for the first-weeks rule and weekly counts);
    ``numbers``: what to call each post, in findings' ``examples``, messages and recommendations
    (default: its 0-based position in ``labels``, ``post #0`` being the first); ``rows``: the
    numbers are an archive's row numbers (said ``row 12`` rather than ``post #12``).
    """
    n = len(labels)
    classes = [str(c) for c in classes]
    if n == 0:
        return MixReport(0, {c: 0.0 for c in dict.fromkeys([*classes, *profile.values])}, 0.0, 0.0,
                         (Finding("n_posts", 0.0, 1.0, 0.0, "there are no posts to assess", "at least one post"),),
                         profile.name, steps=(("no posts", 0.0),))
    proba = np.asarray(proba, dtype=np.float64)
    names = _Names(list(numbers) if numbers is not None else list(range(n)), rows)
    counts: dict[str, int] = {}
    for x in labels:
        counts[x] = counts.get(x, 0) + 1
    mix = {label: counts.get(label, 0) / n for label in dict.fromkeys([*classes, *profile.values, *counts])}
    expected = proba.mean(axis=0)
    half = 1.96 * np.sqrt((proba * (1 - proba)).sum(axis=0)) / n
    expected_mix = {c: float(e) for c, e in zip(classes, expected)}
    mix_range = {c: (float(max(0.0, e - h)), float(min(1.0, e + h))) for c, e, h in zip(classes, expected, half)}
    _, value, findings = weigh_mix(mix, profile)
    for label in _in_order(counts):
        if label not in profile.values:
            findings.append(Finding(
                f"unknown_label.{label}", mix[label], 0.0, 0.0,
                f"{_plural(counts[label], 'post')} {'is' if counts[label] == 1 else 'are'} labelled {label!r}, which "
                f"profile {profile.name!r} gives no user value (counted as 0); use a profile written for this model's "
                "labels", "a label the profile knows"))
    col = {c: j for j, c in enumerate(classes)}
    rounded = np.round(proba, 4)  # as files hold them: a labelled file and its raw posts show the same posts

    def confident(of: Sequence[str], k: int = 3) -> tuple[int, ...]:
        pool = [i for i, x in enumerate(labels) if x in of]
        pool.sort(key=lambda i: (-rounded[i, col[labels[i]]] if labels[i] in col else 0.0, i))
        return tuple(pool[:k])

    def shown(f: Finding) -> tuple[int, ...]:
        """Posts that show a finding on shares: the most confident posts of its label(s)."""
        if f.rule.startswith(("max_share.", "unknown_label.")):
            return confident([f.rule.split(".", 1)[1]])
        return confident(profile.self_promotion) if f.rule in ("max_self_promotion", "self_talk_only") else f.examples

    findings = [dataclasses.replace(f, examples=shown(f)) for f in findings]
    findings += _sequence(labels, profile, weeks, names)
    penalties = [(f.message, -f.penalty) for f in findings if f.penalty > 0]
    raw = value + sum(p for _, p in penalties)
    score = min(100.0, max(0.0, raw))
    steps = [("average user value of the posts", value), *penalties]
    if score != raw:
        steps.append(("clipped to 0-100", score - raw))
    known = [w for w in (weeks or []) if w is not None]
    n_weeks = (max(known) - min(known) + 1 / 7) if known else None
    recs = recommend(findings, labels, proba, classes, profile, names.numbers, n_weeks, rows)
    findings = [dataclasses.replace(f, examples=tuple(names.numbers[i] for i in f.examples)) for f in findings]
    return MixReport(n, mix, round(score, 1), round(value, 1), tuple(findings), profile.name, expected_mix, mix_range,
                     tuple((what, round(points, 2)) for what, points in steps), tuple(recs))
