"""How well a model labels posts whose labels are known: accuracy, macro-F1, per-label scores, confusions."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .corpus import LabelledPost
from .core import Classifier
from . import ngrams
from .text import languages

__all__ = ["EvalReport", "evaluate", "report", "calibration"]


@dataclass(frozen=True)
class EvalReport:
    """Scores of a model on labelled posts. ``confusion[i][j]`` counts posts of ``labels[i]`` predicted ``labels[j]``."""

    n_posts: int
    accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    per_label: dict[str, dict[str, float]]
    confusion: tuple[tuple[int, ...], ...]
    by_language: dict[str, float]
    calibration: dict[str, float] | None = None  #: see :func:`calibration`; ``None`` without probabilities

    def to_dict(self) -> dict:
        return {"n_posts": self.n_posts, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "macro_f1_by_language": {k: round(v, 4) for k, v in self.by_language.items()},
                "per_label": self.per_label, "labels": list(self.labels),
                "confusion": [list(r) for r in self.confusion],
                **({"calibration": self.calibration} if self.calibration is not None else {})}

    def format(self) -> str:
        """The report as a terminal table."""
        width = max(len(label) for label in self.labels) + 2
        lines = [f"posts: {self.n_posts}   accuracy: {self.accuracy:.3f}   macro-F1: {self.macro_f1:.3f}"]
        if self.by_language:
            lines.append("macro-F1 by language: " + ", ".join(f"{k} {v:.3f}" for k, v in self.by_language.items()))
        if self.calibration is not None:
            c = self.calibration
            lines.append(f"calibration: expected calibration error {c['ece']:.3f} (mean top probability "
                         f"{c['mean_confidence']:.3f} vs accuracy {self.accuracy:.3f}); flagged uncertain: "
                         f"{c['flagged']:.0%} of posts, {c['wrong_flagged']:.0%} of the wrong labels")
        lines += ["", f"{'label':<{width}}precision  recall     f1  support"]
        for label in self.labels:
            s = self.per_label[label]
            lines.append(f"{label:<{width}}{s['precision']:9.3f}{s['recall']:8.3f}{s['f1']:7.3f}{int(s['support']):9d}")
        lines += ["", "confusion (rows: true label, columns: predicted)",
                  " " * width + "".join(f"{label[:10]:>11}" for label in self.labels)]
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<{width}}" + "".join(f"{n:>11d}" for n in row))
        return "\n".join(lines)


def evaluate(model: Classifier, posts: Sequence[LabelledPost]) -> EvalReport:
    """Score ``model`` on ``posts``. Raises ``ValueError`` if a post's label is not one the model knows."""
    if not posts:
        raise ValueError("no labelled posts to evaluate")
    known = [str(c) for c in model.classes_]
    unknown = sorted({p.label for p in posts} - set(known))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the model's label set {known}")
    proba = model.predict_proba([p.text for p in posts])
    predicted = np.asarray(model.classes_)[proba.argmax(axis=1)]
    result = report(posts, predicted, known)
    truth = np.array([p.label for p in posts], dtype=object)
    return dataclasses.replace(result, calibration=calibration(proba, predicted == truth, model.uncertain_below))


def calibration(proba: np.ndarray, correct: np.ndarray, uncertain_below: float, bins: int = 10) -> dict[str, float]:
    """Whether the top probabilities mean what they say, on posts whose labels are known.

    ``ece``: expected calibration error, the gap between confidence and accuracy averaged over
    ``bins`` equal-width bins of the top probability (weighted by their posts); ``flagged``: the
    share of posts flagged uncertain (top probability below ``uncertain_below``);
    ``wrong_flagged``: the share of the wrong labels among them.
    """
    top = proba.max(axis=1)
    correct = np.asarray(correct, dtype=bool)
    which = np.minimum((top * bins).astype(int), bins - 1)
    ece = sum(abs(correct[which == b].mean() - top[which == b].mean()) * np.mean(which == b)
              for b in range(bins) if np.any(which == b))
    flagged = top < uncertain_below
    return {"ece": round(float(ece), 4), "mean_confidence": round(float(top.mean()), 4),
            "flagged": round(float(flagged.mean()), 4),
            "wrong_flagged": round(float(flagged[~correct].mean()), 4) if (~correct).any() else 0.0}


def post_languages(posts: Sequence[LabelledPost]) -> list[str]:
    """Each post's ``lang``, detected (for all posts at once) where the data does not give it."""
    missing = [i for i, p in enumerate(posts) if not p.lang]
    found = dict(zip(missing, languages(ngrams.encode([posts[i].text for i in missing])))) if missing else {}
    return [p.lang or found[i] for i, p in enumerate(posts)]


def report(posts: Sequence[LabelledPost], predicted: Sequence[str], labels: Sequence[str],
           langs: Sequence[str] | None = None) -> EvalReport:
    """The scores of ``predicted`` labels against the labels of ``posts``.

    ``langs``: each post's language (default: :func:`post_languages`), for macro-F1 by language.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support  # only to evaluate
    known = list(labels)
    truth = np.array([p.label for p in posts], dtype=object)
    pred = np.asarray(predicted, dtype=object)
    prec, rec, f1, sup = precision_recall_fscore_support(truth, pred, labels=known, zero_division=0)
    per_label = {label: {"precision": round(float(a), 4), "recall": round(float(b), 4), "f1": round(float(c), 4),
                         "support": int(d)} for label, a, b, c, d in zip(known, prec, rec, f1, sup)}
    langs = np.array(post_languages(posts) if langs is None else list(langs), dtype=object)
    by_language = {}
    for lang in sorted(set(langs) - {"", "other"}):
        mask = langs == lang
        present = sorted(set(truth[mask]))
        by_language[lang] = float(f1_score(truth[mask], pred[mask], labels=present, average="macro", zero_division=0))
    cm = confusion_matrix(truth, pred, labels=known)
    present = [label for label in known if label in set(truth)] or known
    return EvalReport(
        n_posts=len(posts), accuracy=float((truth == pred).mean()),
        macro_f1=float(f1_score(truth, pred, labels=present, average="macro", zero_division=0)),
        labels=tuple(known), per_label=per_label, confusion=tuple(tuple(int(n) for n in r) for r in cm),
        by_language=by_language,
    )
