"""The public API: score one post, score many, assess an account's mix, load a model."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import chain
from pathlib import Path
from typing import Any, Union

import numpy as np

from .core import Classifier, Labelled, ModelLike, label_texts, load_model, model_profile, resolve_model, shipped_model_path
from .archive import TEXT_COLUMNS
from .dates import in_time_order, to_weeks
from .guidelines import GuidelineProfile, MixReport, ProfileLike, resolve_profile, weigh_posts
from .text import check_text

__all__ = ["PostScore", "PostScores", "MixReport", "score", "score_many", "assess", "load_model", "default_model_path", "model_profile"]


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
    """Where the default shipped model (``postlens-base``) lives."""
    return shipped_model_path()


#: ``score_many`` labels at most this many posts, and about this many characters, at a time (as
#: ``postlens label`` does): arrays of that size stay in the CPU's caches, which makes 100,000
#: posts about 1.5 times as fast as one pass over all of them, and long posts do not make one
#: huge batch (the features take about 100 bytes per character of text).
_CHUNK_ROWS = 2048
_CHUNK_CHARS = 256 << 10


class PostScores(Sequence):
    """The scores of many posts, as :func:`score_many` returns them: columns of numpy arrays that
    index, slice and iterate like a list of :class:`PostScore`.

    ``scores[i]`` (and iterating) builds the :class:`PostScore` of a post when it is read, with
    its ``evidence`` worked out when that is read; ``len(scores)`` counts the posts; a slice,
    an array of positions or a boolean mask (``scores[scores.uncertain]``) gives another
    ``PostScores``; a ``PostScores`` equals a list of the same :class:`PostScore` objects
    (``scores == scores.tolist()``; each is what :func:`score` gives for that post, but for the
    last bits of the float32 probabilities, which a batch sums in another order); ``scores + [...]``
    gives a list. It is not a ``list``: ``tolist()`` makes one. The columns, one entry per post:

    Attributes:
        classes: the model's label ids, the column order of ``probabilities``.
        labels: each post's label (a numpy array of ``str`` objects).
        probabilities: calibrated probabilities, a 2-D array with one row per post and one
            column per label of ``classes`` (float32, as the model computes them).
        user_values: each post's user value, 0-100 (float64).
        uncertain: whether the model is unsure of each post (bool).
        languages: each post's language, ``"zh"``, ``"en"``, ``"ko"`` or ``"other"`` (a numpy array of ``str`` objects).

    ``to_frame()`` gives them as a pandas DataFrame, ``to_dict()`` as lists.
    """

    def __init__(self, model: Classifier, classes: Sequence[str], docs: np.ndarray, best: np.ndarray,
                 probabilities: np.ndarray, user_values: np.ndarray, uncertain: np.ndarray, languages: np.ndarray):
        self._model = model
        self.classes: tuple[str, ...] = tuple(classes)
        self._docs = docs  # the posts normalised (object array): what evidence is worked out from
        self._best = best  # the column of each post's label
        self.probabilities = probabilities
        self.user_values = user_values
        self.uncertain = uncertain
        self.languages = languages
        for column in (docs, best, probabilities, user_values, uncertain, languages):
            column.flags.writeable = False  # shared with slices and with the PostScore objects' source

    @classmethod
    def _of(cls, model: Classifier, parts: Sequence[Labelled]) -> PostScores:
        """One ``PostScores`` of batches labelled by :func:`~postlens.core.label_texts` (in order)."""
        classes = [str(c) for c in model.classes_]
        if not parts:
            return cls(model, classes, np.empty(0, dtype=object), np.empty(0, dtype=np.int64),
                       np.empty((0, len(classes)), dtype=np.float32), np.empty(0), np.empty(0, dtype=bool),
                       np.empty(0, dtype=object))
        n, cat = sum(len(p.docs) for p in parts), np.concatenate

        def strings(lists: Iterable[list[str]]) -> np.ndarray:
            return np.fromiter(chain.from_iterable(lists), dtype=object, count=n)

        return cls(model, parts[0].labels, strings(p.docs for p in parts), cat([p.best for p in parts]),
                   cat([p.proba for p in parts]), cat([p.values for p in parts]), cat([p.uncertain for p in parts]),
                   strings(p.languages for p in parts))

    def _take(self, key: Any) -> PostScores:
        return PostScores(self._model, self.classes, self._docs[key], self._best[key], self.probabilities[key],
                          self.user_values[key], self.uncertain[key], self.languages[key])

    @cached_property
    def labels(self) -> np.ndarray:
        labels = np.array(self.classes, dtype=object)[self._best]
        labels.flags.writeable = False
        return labels

    def __len__(self) -> int:
        return len(self._best)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            i, n = operator.index(key), len(self._best)
            if not -n <= i < n:
                raise IndexError(f"post #{i} out of range: there are {n} posts")
            return self._score(i % n)
        if isinstance(key, slice):
            return self._take(key)
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != self._best.shape:
                raise IndexError(f"a boolean mask of {key.shape[0] if key.ndim else 0} entries for {len(self)} posts")
        elif key.size == 0:
            key = key.astype(np.int64)
        elif key.ndim != 1 or not np.issubdtype(key.dtype, np.integer):
            raise TypeError("PostScores takes an integer, a slice, integer positions or a boolean mask; "
                            f"got {type(key).__name__} of {key.dtype}")
        return self._take(key)

    def _score(self, i: int) -> PostScore:
        label = self.classes[self._best[i]]
        return PostScore(label, dict(zip(self.classes, self.probabilities[i].tolist())), float(self.user_values[i]),
                         bool(self.uncertain[i]), str(self.languages[i]), partial(self._model.explain, self._docs[i], label))

    def __iter__(self) -> Iterator[PostScore]:
        classes, explain, step = self.classes, self._model.explain, 4096
        for a in range(0, len(self._best), step):
            b = slice(a, a + step)
            for doc, best, row, value, flag, language in zip(
                    self._docs[b].tolist(), self._best[b].tolist(), self.probabilities[b].tolist(),
                    self.user_values[b].tolist(), self.uncertain[b].tolist(), self.languages[b].tolist()):
                label = classes[best]
                yield PostScore(label, dict(zip(classes, row)), value, flag, language, partial(explain, doc, label))

    def tolist(self) -> list[PostScore]:
        """A list of the :class:`PostScore` objects."""
        return list(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PostScores):
            if len(self) != len(other):
                return False
            if self.classes == other.classes:
                return bool(np.array_equal(self._best, other._best)
                            and np.array_equal(self.probabilities, other.probabilities)
                            and np.array_equal(self.user_values, other.user_values)
                            and np.array_equal(self.uncertain, other.uncertain)
                            and np.array_equal(self.languages, other.languages))
        elif not isinstance(other, (list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def __add__(self, other: object) -> PostScores | list:
        if isinstance(other, PostScores) and other._model is self._model and other.classes == self.classes:
            return PostScores(self._model, self.classes, *(np.concatenate(pair) for pair in zip(
                (self._docs, self._best, self.probabilities, self.user_values, self.uncertain, self.languages),
                (other._docs, other._best, other.probabilities, other.user_values, other.uncertain, other.languages))))
        if isinstance(other, (list, PostScores)):
            return [*self, *other]
        return NotImplemented

    def __radd__(self, other: object) -> list:
        return [*other, *self] if isinstance(other, list) else NotImplemented

    def __repr__(self) -> str:
        n = len(self)
        shown = ", ".join(map(repr, self[:2])) + (f", ... {n - 2} more" if n > 2 else "")
        return f"PostScores({n} post{'s' * (n != 1)}: [{shown}])"

    def to_dict(self) -> dict[str, list]:
        """The columns :func:`~postlens.label_frame` adds (``label``, ``p_<label>`` for each label,
        ``user_value``, ``uncertain``, ``language``) as lists, one entry per post: JSON-ready.
        (No evidence: it takes a few milliseconds a post; read it from the posts that need it.)"""
        out: dict[str, list] = {"label": self.labels.tolist()}
        for j, label in enumerate(self.classes):
            out[f"p_{label}"] = self.probabilities[:, j].tolist()
        out["user_value"] = self.user_values.tolist()
        out["uncertain"] = self.uncertain.tolist()
        out["language"] = self.languages.tolist()
        return out

    def to_frame(self, index: Any = None) -> Any:
        """The columns of :meth:`to_dict` as a pandas DataFrame (``index``: its index, e.g. the
        index of the Series that was scored; default 0, 1, 2, ...)."""
        import pandas as pd

        columns: dict[str, Any] = {"label": pd.array(self.labels.tolist(), dtype="string")}
        for j, label in enumerate(self.classes):
            columns[f"p_{label}"] = self.probabilities[:, j].astype(np.float64)
        columns["user_value"] = np.array(self.user_values, dtype=np.float64)
        columns["uncertain"] = np.array(self.uncertain, dtype=bool)
        columns["language"] = pd.array(self.languages.tolist(), dtype="string")
        return pd.DataFrame(columns, index=index)


def _chunks(texts: Sequence[str]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each batch to label: :data:`_CHUNK_ROWS` posts, or fewer that hold
    at most :data:`_CHUNK_CHARS` characters (at least one post)."""
    n, start = len(texts), 0
    while start < n:
        end = min(n, start + _CHUNK_ROWS)
        if sum(map(len, texts[start:end])) > _CHUNK_CHARS:  # long posts: fewer of them
            stop, chars = start + 1, len(texts[start])
            while stop < end and chars + len(texts[stop]) <= _CHUNK_CHARS:
                chars += len(texts[stop])
                stop += 1
            end = stop
        yield start, end
        start = end


def _scores(model: Classifier, texts: Sequence[str], profile: ProfileLike) -> PostScores:
    return PostScores._of(model, [label_texts(model, texts[a:b], profile) for a, b in _chunks(texts)])


def score(text: str, *, model: ModelLike = None, profile: ProfileLike = None) -> PostScore:
    """Label one post and say why.

    >>> postlens.score("限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购").label  # doctest: +SKIP
    'hard_ad'

    ``model``: a shipped model's name (``"postlens-base"``, the default, or
    ``"postlens-accurate"``), a model directory (e.g. one ``postlens train`` or ``postlens adapt``
    wrote; loaded once) or a fitted classifier. ``profile``: the guideline profile
    the user value follows, as a :class:`GuidelineProfile`, a shipped profile's name
    (``"ecommerce"``) or a profile TOML file's path (default: the model's own).

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``text`` is empty or whitespace only.
        ModelError: ``model`` names a directory that is not a sound postlens model.
    """
    profile = resolve_profile(profile)
    return _scores(resolve_model(model), [check_text(text)], profile)[0]


def _refuse_table(posts: Any, function: str) -> None:
    """A DataFrame (or a dict of columns) iterates over its column names, not its posts: refuse it, naming the column to pass."""
    if not (hasattr(posts, "columns") and hasattr(posts, "iloc") or isinstance(posts, Mapping)):
        return
    columns = [str(c) for c in (posts.columns if hasattr(posts, "columns") else posts)]
    column = next((c for c in columns if c.lower() in TEXT_COLUMNS), columns[0] if columns else "text")
    shown = ", ".join(map(repr, columns[:5])) + (", ..." if len(columns) > 5 else "")
    raise TypeError(f"{function} takes a column of posts, not a whole {type(posts).__name__} (its columns: "
                    f"{shown or 'none'}); pass the text column, e.g. {function}(df[{column!r}])"
                    + (", or use label_frame(df) to add the labels to the frame" if function == "score_many" else ""))


def score_many(texts: Iterable[str], *, model: ModelLike = None,
               profile: ProfileLike = None) -> PostScores:
    """Label many posts in one batch (much faster per post than calling :func:`score` in a loop).

    Returns a :class:`PostScores`: it indexes, slices and iterates like a list of
    :class:`PostScore` (built as they are read), and holds the results as numpy arrays
    (``.labels``, ``.probabilities``, ``.user_values``, ``.uncertain``, ``.languages``;
    ``.to_frame()``), so labelling many posts costs no more than ``postlens label`` does.

    ``texts`` may be any iterable of strings, including a pandas Series. A non-string or empty
    item raises an error naming its position. A whole DataFrame raises ``TypeError`` (iterating
    one gives its column names): pass its text column, ``score_many(df["text"])``.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("score_many takes a list of posts; use score() for a single post")
    _refuse_table(texts, "score_many")
    profile = resolve_profile(profile)
    items = list(texts.tolist() if hasattr(texts, "tolist") else texts)
    try:  # all strings with some text? (checked in C: 3 times faster than check_text post by post)
        usable = all(map(str.strip, items))
    except TypeError:  # not a str
        usable = False
    if not usable:  # name the first post that is not
        for i, text in enumerate(items):
            try:
                check_text(text)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"post #{i}: {exc}") from None
    return _scores(resolve_model(model), items, profile)


def assess(posts: Iterable[Union[str, PostScore]] | PostScores, *, model: ModelLike = None,
           profile: ProfileLike = None, dates: Sequence[Any] | None = None) -> MixReport:
    """Weigh an account's posts (texts or :class:`PostScore` objects, in publishing order) against a guideline profile.

    ``posts`` may also be what :func:`score_many` returned (its arrays are read as they are).

    ``profile`` defaults to the model's own (``balanced`` for the shipped model). ``dates``
    (optional, one per post: ``datetime``/``date`` objects or ISO strings) orders the posts and
    enables the rules on time (a community's first weeks) and weekly counts in recommendations.
    An empty list gives a report with no mix, a score of 0 and a finding saying there is nothing
    to assess. Raises ``ValueError`` naming the position of a date that cannot be read.
    """
    if isinstance(posts, (str, bytes)):
        raise TypeError("assess takes a list of an account's posts; use score() for a single post")
    _refuse_table(posts, "assess")
    items: Sequence[Any] = posts if isinstance(posts, PostScores) else list(posts)
    if dates is not None and len(dates) != len(items):
        raise ValueError(f"got {len(items)} posts but {len(dates)} dates")
    m = resolve_model(model)
    profile = resolve_profile(profile) or model_profile(m)
    if not isinstance(items, PostScores) and not any(isinstance(p, PostScore) for p in items):
        items = score_many(items, model=m, profile=profile)
    if isinstance(items, PostScores):  # the labels and probabilities as they are, no PostScore built
        classes = list(dict.fromkeys([*map(str, m.classes_), *items.classes]))
        labels = items.labels.tolist()
        proba = np.zeros((len(items), len(classes)))
        proba[:, [classes.index(c) for c in items.classes]] = items.probabilities
    else:  # PostScore objects, maybe with texts among them
        texts = [p for p in items if not isinstance(p, PostScore)]
        scored = iter(score_many(texts, model=m, profile=profile))
        results = [p if isinstance(p, PostScore) else next(scored) for p in items]
        classes = list(dict.fromkeys([*map(str, m.classes_), *(c for r in results for c in r.probabilities)]))
        labels = [r.label for r in results]
        proba = np.array([[r.probabilities.get(c, 0.0) for c in classes] for r in results]).reshape(-1, len(classes))
    weeks = None
    order = list(range(len(labels)))
    if dates is not None:
        weeks = [to_weeks(d, i) for i, d in enumerate(dates)]
        order = in_time_order(weeks)
        weeks = [weeks[i] for i in order]
        labels, proba = [labels[i] for i in order], proba[order]
    return weigh_posts(labels, proba, classes, profile, weeks, list(order))
