"""The public API: score one post, score many, assess an account's mix, load a model."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, Union

import numpy as np

from .guidelines import BALANCED, GuidelineProfile, MixReport, weigh_posts
from .model import PostClassifier
from . import ngrams
from .dates import in_time_order, to_weeks
from .text import check_text, languages, normalize_many

__all__ = ["PostScore", "MixReport", "score", "score_many", "assess", "load_model", "default_model_path", "model_profile"]

_MODEL_NAME = "postlens-base"
_lock = threading.Lock()
_default: PostClassifier | None = None


@dataclass(frozen=True)
class PostScore:
    """What postlens makes of one post.

    Attributes:
        label: the most likely label id (see :data:`postlens.LABELS`).
        probabilities: label id → calibrated probability; sums to 1.
        user_value: 0-100, the post's expected value to followers under the guidelines.
        uncertain: True when the model is not confident (top probability below the model's threshold).
        language: ``"zh"``, ``"en"``, ``"ko"`` or ``"other"``.
        evidence: the few features that pushed most towards ``label``, in words (worked out
            the first time it is read, so batch labelling pays only for the evidence it uses).
    """

    label: str
    probabilities: dict[str, float]
    user_value: float
    uncertain: bool
    language: str
    _explain: Callable[[], tuple[str, ...]] = field(default=lambda: (), repr=False, compare=False)

    @cached_property
    def evidence(self) -> tuple[str, ...]:
        return self._explain()

    def to_dict(self) -> dict:
        """A JSON-ready dict of all fields."""
        return {"label": self.label, "probabilities": dict(self.probabilities), "user_value": self.user_value,
                "uncertain": self.uncertain, "language": self.language, "evidence": list(self.evidence)}


def default_model_path() -> Path:
    """Where the shipped model lives: inside the installed package, or ``models/`` of a source checkout."""
    packaged = Path(str(resources.files("postlens"))) / "models" / _MODEL_NAME
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "models" / _MODEL_NAME


def load_model(path: str | Path | None = None) -> PostClassifier:
    """Load a model directory (default: the shipped model). Raises :class:`ModelError` if unusable."""
    return PostClassifier.load(default_model_path() if path is None else path)


def model_profile(model: PostClassifier) -> GuidelineProfile:
    """The guideline profile stored with ``model`` when it was trained (``BALANCED`` if none was); read once per model."""
    profile = model.__dict__.get("_profile_cache")
    if profile is None:
        stored = getattr(model, "metadata_", {}).get("profile")
        profile = GuidelineProfile.from_dict(stored, "the model's profile") if stored else BALANCED
        model.__dict__["_profile_cache"] = profile
    return profile


#: What the ``model`` argument of the API takes: a fitted classifier, a model directory, or None (the shipped model).
ModelLike = Union[PostClassifier, str, os.PathLike, None]


@lru_cache(maxsize=4)
def _load_once(path: str, version: tuple[int, ...]) -> PostClassifier:
    return load_model(path)


def _model(model: ModelLike) -> PostClassifier:
    """The model ``model`` names: the shipped one and model directories are loaded once (a directory
    again when one of its files changes, e.g. after retraining into it)."""
    global _default
    if isinstance(model, (str, os.PathLike)):
        path = Path(model).resolve()
        files = (path / "weights.npz", path / "model.json")
        return _load_once(str(path), tuple(f.stat().st_mtime_ns if f.is_file() else 0 for f in files))
    if model is not None:
        if not isinstance(model, PostClassifier) or not hasattr(model, "coef_"):
            raise TypeError("model must be a fitted PostClassifier or a model directory, e.g. "
                            f"postlens.load_model(path); got {type(model).__name__}")
        return model
    if _default is None:
        with _lock:
            if _default is None:
                _default = load_model()
    return _default


class _Batch(NamedTuple):
    """What labelling a batch of posts gives, as arrays (shared by score_many and batch labelling)."""

    docs: list[str]
    labels: list[str]  #: the model's label ids, in column order
    best: np.ndarray  #: column of each post's label
    proba: np.ndarray
    values: np.ndarray  #: user value of each post
    uncertain: np.ndarray
    languages: list[str]


def _label(model: PostClassifier, texts: Sequence[str], profile: GuidelineProfile | None) -> _Batch:
    """Label ``texts``; user values from ``profile`` (``None``: the model's own)."""
    profile = profile or model_profile(model)
    docs = normalize_many(texts)
    enc = ngrams.encode(docs)
    proba = model.predict_proba_normalized(docs, enc)
    labels = [str(c) for c in model.classes_]
    best = proba.argmax(axis=1)
    return _Batch(docs, labels, best, proba, profile.values_of(labels, proba),
                  proba[np.arange(len(docs)), best] < model.uncertain_below, languages(enc))


def _scores(model: PostClassifier, texts: Sequence[str], profile: GuidelineProfile | None) -> list[PostScore]:
    b = _label(model, texts, profile)
    return [
        PostScore(
            label=b.labels[best],
            probabilities=dict(zip(b.labels, row)),
            user_value=value,
            uncertain=flag,
            language=language,
            _explain=partial(model.explain, doc, b.labels[best]),
        )
        for doc, best, row, value, flag, language in zip(b.docs, b.best.tolist(), b.proba.tolist(), b.values.tolist(),
                                                         b.uncertain.tolist(), b.languages)
    ]


def score(text: str, *, model: ModelLike = None, profile: GuidelineProfile | None = None) -> PostScore:
    """Label one post and say why.

    >>> postlens.score("限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购").label  # doctest: +SKIP
    'hard_ad'

    ``model``: a fitted :class:`PostClassifier`, a model directory (e.g. one ``postlens train``
    wrote; loaded once) or ``None`` for the shipped model. ``profile``: the guideline profile
    the user value follows (default: the model's own).

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``text`` is empty or whitespace only.
        ModelError: ``model`` names a directory that is not a sound postlens model.
    """
    return _scores(_model(model), [check_text(text)], profile)[0]


def score_many(texts: Iterable[str], *, model: ModelLike = None,
               profile: GuidelineProfile | None = None) -> list[PostScore]:
    """Label many posts in one batch (much faster per post than calling :func:`score` in a loop).

    ``texts`` may be any iterable of strings, including a pandas Series. A non-string or empty
    item raises an error naming its position.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("score_many takes a list of posts; use score() for a single post")
    items = list(texts.tolist() if hasattr(texts, "tolist") else texts)
    for i, text in enumerate(items):
        try:
            check_text(text)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"post #{i}: {exc}") from None
    if not items:
        return []
    return _scores(_model(model), items, profile)


def assess(posts: Iterable[Union[str, PostScore]], *, model: ModelLike = None,
           profile: GuidelineProfile | None = None, dates: Sequence[Any] | None = None) -> MixReport:
    """Weigh an account's posts (texts or :class:`PostScore` objects, in publishing order) against a guideline profile.

    ``profile`` defaults to the model's own (``balanced`` for the shipped model). ``dates``
    (optional, one per post: ``datetime``/``date`` objects or ISO strings) orders the posts and
    enables the rules on time (a community's first weeks) and weekly counts in recommendations.
    An empty list gives a report with no mix, a score of 0 and a finding saying there is nothing
    to assess. Raises ``ValueError`` naming the position of a date that cannot be read.
    """
    if isinstance(posts, (str, bytes)):
        raise TypeError("assess takes a list of an account's posts; use score() for a single post")
    items = list(posts)
    if dates is not None and len(dates) != len(items):
        raise ValueError(f"got {len(items)} posts but {len(dates)} dates")
    m = _model(model)
    profile = profile or model_profile(m)
    texts = [p for p in items if not isinstance(p, PostScore)]
    scored = iter(score_many(texts, model=m, profile=profile))
    results = [p if isinstance(p, PostScore) else next(scored) for p in items]
    classes = list(dict.fromkeys([*map(str, m.classes_), *(c for r in results for c in r.probabilities)]))
    weeks = None
    order = list(range(len(results)))
    if dates is not None:
        weeks = [to_weeks(d, i) for i, d in enumerate(dates)]
        order = in_time_order(weeks)
        weeks = [weeks[i] for i in order]
    proba = np.array([[results[i].probabilities.get(c, 0.0) for c in classes] for i in order]).reshape(-1, len(classes))
    return weigh_posts([results[i].label for i in order], proba, classes, profile, weeks, [i + 1 for i in order])
