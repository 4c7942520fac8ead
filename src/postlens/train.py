"""Build a model from labelled files: hold out a test split, fit, evaluate, record where it came from."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Sequence

import sklearn

from .corpus import data_sha256, is_test_split, read_labelled
from .evaluate import EvalReport, evaluate
from .model import PostClassifier

__all__ = ["train"]

#: Share of posts (by a stable hash of their text) held out to measure the model.
TEST_PERCENT = 10


def train(data: Sequence[str | Path], out: str | Path, *, eval_data: Sequence[str | Path] = (),
          labels: Sequence[str] | None = None, random_state: int = 0) -> tuple[PostClassifier, dict[str, EvalReport]]:
    """Fit a :class:`PostClassifier` on ``data`` minus its test split and save it to ``out``.

    The test split is the posts whose text hashes into the first :data:`TEST_PERCENT` percent
    (see :func:`postlens.corpus.is_test_split`). The calibration folds keep each file's posts
    together (files are written by different writers). Each file in ``eval_data`` is scored too.
    The model's metadata records the postlens and scikit-learn versions, the label set, the
    SHA-256 of the training files and every evaluation. Same data and seed, same model files.
    """
    from . import __version__

    posts = read_labelled(data, labels)
    fit_posts = [p for p in posts if not is_test_split(p.text, TEST_PERCENT)]
    test_posts = [p for p in posts if is_test_split(p.text, TEST_PERCENT)]
    model = PostClassifier(random_state=random_state).fit(
        [p.text for p in fit_posts], [p.label for p in fit_posts], groups=[p.source for p in fit_posts])
    reports = {"test_split": evaluate(model, test_posts)} if test_posts else {}
    for path in eval_data:
        reports[Path(path).name] = evaluate(model, read_labelled([path], model.classes_))
    model.save(out, metadata={
        "postlens_version": __version__,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "training_data": {"files": sorted(p.name for p in map(Path, data)), "sha256": data_sha256(data),
                          "posts": len(posts), "fit_posts": len(fit_posts), "test_posts": len(test_posts),
                          "test_split": f"sha256(text) % 100 < {TEST_PERCENT}"},
        "evaluation": {name: r.to_dict() for name, r in reports.items()},
    })
    return model, reports
