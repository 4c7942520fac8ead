"""How well a model labels posts whose labels are known: accuracy, macro-F1, per-label scores, confusions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .corpus import LabelledPost
from .model import PostClassifier
from . import ngrams
from .text import languages

__all__ = ["EvalReport", "evaluate", "report"]


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

    def to_dict(self) -> dict:
        return {"n_posts": self.n_posts, "accuracy": round(self.accuracy, 4), "macro_f1": round(self.macro_f1, 4),
                "macro_f1_by_language": {k: round(v, 4) for k, v in self.by_language.items()},
                "per_label": self.per_label, "labels": list(self.labels),
                "confusion": [list(r) for r in self.confusion]}

    def format(self) -> str:
        """The report as a terminal table."""
        width = max(len(label) for label in self.labels) + 2
        lines = [f"posts: {self.n_posts}   accuracy: {self.accuracy:.3f}   macro-F1: {self.macro_f1:.3f}"]
        if self.by_language:
            lines.append("macro-F1 by language: " + ", ".join(f"{k} {v:.3f}" for k, v in self.by_language.items()))
        lines += ["", f"{'label':<{width}}precision  recall     f1  support"]
        for label in self.labels:
            s = self.per_label[label]
            lines.append(f"{label:<{width}}{s['precision']:9.3f}{s['recall']:8.3f}{s['f1']:7.3f}{int(s['support']):9d}")
        lines += ["", "confusion (rows: true label, columns: predicted)",
                  " " * width + "".join(f"{label[:10]:>11}" for label in self.labels)]
        for label, row in zip(self.labels, self.confusion):
            lines.append(f"{label:<{width}}" + "".join(f"{n:>11d}" for n in row))
        return "\n".join(lines)


def evaluate(model: PostClassifier, posts: Sequence[LabelledPost]) -> EvalReport:
    """Score ``model`` on ``posts``. Raises ``ValueError`` if a post's label is not one the model knows."""
    if not posts:
        raise ValueError("no labelled posts to evaluate")
    known = [str(c) for c in model.classes_]
    unknown = sorted({p.label for p in posts} - set(known))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the model's label set {known}")
    return report(posts, model.predict([p.text for p in posts]), known)


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
