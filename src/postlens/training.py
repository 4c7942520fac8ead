"""Build a model from labelled posts: check them, fit, report cross-validated scores, record where it came from.

The report a team reads before trusting its model is a stratified k-fold cross-validation on
its own posts: every post is predicted by a model that did not see it (the folds the
calibration is fitted on), so the scores say how the model will do on posts like these. On
the same posts, the shipped model's predictions are scored too, fold by fold, so "is my model
better than the one I started from?" has a measured answer.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .corpus import (MIN_POSTS_PER_LABEL, DataError, LabelledPost, check_labelled, corpus_files, data_sha256,
                     is_test_split, read_labelled)
from .evaluate import EvalReport, evaluate, post_languages, report
from .guidelines import BALANCED, ProfileLike, _plural, resolve_profile
from .labels import LABELS
from .accurate import AccurateClassifier
from .model import ModelError, PostClassifier

__all__ = ["train", "TrainReport", "base_corpus_path", "cross_validate", "BASE_SHARE"]

#: With ``base=True``, the in-house posts together weigh this share of the shipped corpus (at
#: least one shipped post each), so a few dozen in-house posts per label move the model.
BASE_SHARE = 0.5


@dataclass(frozen=True)
class TrainReport:
    """What training measured.

    Attributes:
        cv: out-of-fold scores on the in-house posts (each predicted by a model that did not see it).
        shipped: the shipped model on the same posts (``None`` if its labels differ).
        folds: per fold, ``(posts, macro-F1 of the new model, macro-F1 of the shipped model or None)``.
        held_out: scores on the ``hold_out`` share and on each ``eval_data`` file, by name.
        notes: what the reader should know (weights used, duplicates counted once, ...).
    """

    cv: EvalReport
    shipped: EvalReport | None
    folds: tuple[tuple[int, float, float | None], ...]
    held_out: dict[str, EvalReport] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    posts: tuple[LabelledPost, ...] = field(default=(), repr=False)  #: the training posts, in ``cv_proba_`` order

    def to_dict(self) -> dict[str, Any]:
        return {"cross_validation": self.cv.to_dict(),
                "shipped_model_same_posts": self.shipped.to_dict() if self.shipped else None,
                "folds": [{"posts": n, "macro_f1": round(a, 4), "shipped_macro_f1": None if b is None else round(b, 4)}
                          for n, a, b in self.folds],
                "held_out": {k: v.to_dict() for k, v in self.held_out.items()}, "notes": list(self.notes)}

    def format(self) -> str:
        k = len(self.folds)
        lines = [f"== {k}-fold cross-validation on the training posts (each post predicted by a model that "
                 "did not see it)", self.cv.format(), ""]
        if self.shipped is not None:
            lines += ["== the shipped model on the same posts", self.shipped.format(), "",
                      "== fold by fold (macro-F1)", f"{'fold':>6}{'posts':>8}{'new':>8}{'shipped':>9}{'gain':>8}"]
            for i, (n, a, b) in enumerate(self.folds, 1):
                lines.append(f"{i:>6}{n:>8}{a:>8.3f}{b:>9.3f}{a - b:>+8.3f}")
            gain = self.cv.macro_f1 - self.shipped.macro_f1
            lines += [f"{'all':>6}{self.cv.n_posts:>8}{self.cv.macro_f1:>8.3f}{self.shipped.macro_f1:>9.3f}"
                      f"{gain:>+8.3f}", ""]
        for name, r in self.held_out.items():
            lines += [f"== held out: {name}", r.format(), ""]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip()


def base_corpus_path() -> Path:
    """The shipped training corpus: inside the installed package, or ``data/corpus`` of a source checkout."""
    packaged = Path(str(resources.files("postlens"))) / "data" / "corpus"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "data" / "corpus"


def _shipped_model(name: str = "postlens-base") -> PostClassifier | AccurateClassifier:
    from .core import load_model

    return load_model(name)


def base_embeddings_path() -> Path:
    """The shipped corpus's sentence embeddings (what ``train --accurate --base`` reads instead of
    embedding 10,000 posts again); written by ``python data/embed_corpus.py``."""
    return base_corpus_path().parent / "embeddings"


def _embeddings(model: AccurateClassifier, texts: Sequence[str], progress: bool) -> Any:
    """The encoder's vectors of ``texts``: the shipped corpus's from its stored copy, the rest computed."""
    from .encoder import cache_key, embed, get_encoder, read_cache
    from .text import normalize_many

    encoder = get_encoder(model.encoder)
    docs = normalize_many(list(texts))
    cache = read_cache(base_embeddings_path() / f"{encoder.name}.npz", encoder)
    bar = None
    if progress:
        from tqdm import tqdm

        missing = sum(1 for d in docs if cache_key(encoder, d) not in cache)
        bar = tqdm(total=missing, unit=" posts", desc="embedding", file=sys.stderr, dynamic_ncols=True) if missing else None
    try:
        return embed(encoder, docs, cache, progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def cross_validate(model: PostClassifier, posts: Sequence[LabelledPost], rows: np.ndarray,
                   compare: PostClassifier | None) -> tuple[EvalReport, EvalReport | None, tuple]:
    """Scores of ``model``'s out-of-fold predictions (``cv_proba_``) on ``posts`` (training rows ``rows``),
    and of ``compare`` on the same posts, overall and per fold."""
    labels = [str(c) for c in model.classes_]
    pred = model.classes_[model.cv_proba_[rows].argmax(axis=1)]
    langs = post_languages(posts)
    cv = report(posts, pred, labels, langs)
    theirs = None
    if compare is not None and sorted(map(str, compare.classes_)) == sorted(labels):
        theirs = compare.predict([p.text for p in posts])
    folds = []
    fold_of = model.cv_fold_[rows]
    for k in range(int(fold_of.max()) + 1 if len(fold_of) else 0):
        idx = np.flatnonzero(fold_of == k)
        if not len(idx):
            continue
        sub, sub_langs = [posts[i] for i in idx], [langs[i] for i in idx]
        a = report(sub, pred[idx], labels, sub_langs).macro_f1
        b = report(sub, theirs[idx], labels, sub_langs).macro_f1 if theirs is not None else None
        folds.append((len(idx), a, b))
    return cv, (report(posts, theirs, labels, langs) if theirs is not None else None), tuple(folds)


def train(data: str | Path | Sequence[str | Path], out: str | Path | None = None, *, text_column: str | None = None,
          label_column: str | None = None, labels: Sequence[str] | None = None,
          profile: ProfileLike = None, base: bool = False, hold_out: int = 0,
          eval_data: str | Path | Sequence[str | Path] = (), random_state: int = 0,
          compare: bool = True, accurate: bool = False,
          progress: bool = False) -> tuple[PostClassifier | AccurateClassifier, TrainReport]:
    """Check labelled posts, fit a :class:`PostClassifier`, report its cross-validated scores, save it to ``out``.

    Args:
        data: labelled files (CSV/TSV, JSONL, Parquet, saved datasets; directories of JSONL), or one.
        out: model directory to write (``None``: do not save).
        text_column, label_column: column names (default: found by name).
        labels: the label set (default: the codebook's five). Any other set needs a ``profile``
            giving each label its user value.
        profile: guideline profile stored with the model and used when it scores posts: a
            :class:`GuidelineProfile`, a shipped profile's name (``"ecommerce"``) or a TOML file's path.
        base: also train on the shipped corpus (its posts with labels in ``labels``); the
            training posts together weigh :data:`BASE_SHARE` of it, so 20 posts per label help.
        hold_out: percent of the posts (by a stable hash of the text) kept out of training and
            scored at the end, as the shipped model's test split is.
        eval_data: labelled files to score the model on after training.
        compare: also score the shipped model of the same kind on the same posts and folds.
        accurate: train an :class:`~postlens.accurate.AccurateClassifier` (the fast model plus a
            head on a sentence encoder's embeddings; needs ``pip install "postlens[encoder]"``).
            The shipped corpus's embeddings are read from the copy shipped with postlens; only
            your posts are embedded (about 30 posts/s on 2 cores).
        progress: a progress bar on stderr while posts are embedded.

    Raises :class:`DataError` listing every problem in the data (nothing is trained then).
    Same data and seed give the same model files, byte for byte.
    """
    if isinstance(hold_out, bool) or not isinstance(hold_out, int) or not 0 <= hold_out < 100:
        raise DataError(f"--hold-out is the percent of the posts kept out of training, a whole number from 0 to 99; "
                        f"got {hold_out!r}")
    if isinstance(labels, str):
        raise TypeError(f"labels must be a list of label names, e.g. {labels.split(',')!r}, not a string")
    label_set = list(labels) if labels is not None else list(LABELS)
    repeated = [label for label in dict.fromkeys(label_set) if label_set.count(label) > 1]
    if repeated:
        raise DataError(f"--labels names {', '.join(map(repr, repeated))} more than once (got {label_set}); "
                        "give each label once")
    if len(label_set) < 2:
        raise DataError(f"--labels needs at least two different labels, got {label_set}")
    custom = sorted(set(label_set) - set(LABELS))
    profile = resolve_profile(profile)
    if profile is None:
        if custom:
            raise DataError(f"labels {custom} are not codebook labels: give their user values in a guideline profile "
                            "(--profile FILE.toml, with a [labels.<name>] value = 0-100 for each label)")
        profile = BALANCED
    missing = [label for label in label_set if label not in profile.values]
    if missing:
        raise DataError(f"the guideline profile {profile.name!r} gives no user value to {missing}; add "
                        + " ".join(f"[labels.{m}] value = ..." for m in missing))

    problems: list[str] = []  # what reading finds is reported with what checking finds, in one error
    posts = read_labelled(data, text_column=text_column, label_column=label_column, problems=problems)
    base_posts: list[LabelledPost] = []
    notes: list[str] = []
    if base:
        own = {" ".join(p.text.split()) for p in posts}
        base_posts = [p for p in read_labelled([base_corpus_path()]) if p.label in label_set
                      and " ".join(p.text.split()) not in own]
        if not base_posts:
            raise DataError(f"--base adds the shipped corpus's posts of your labels, but none of {label_set} is a "
                            f"codebook label ({', '.join(LABELS)})")
    # At least MIN_POSTS_PER_LABEL posts of each label: a model of your posts alone cannot learn a label
    # from fewer. With --base the shipped corpus's posts teach the labels it has, so those need none of
    # yours (the workflow `suggest` -> `train --base` labels 50 posts, however they fall); the report
    # then says which labels rest on fewer than that many of your posts.
    covered = {p.label for p in base_posts}
    checked = check_labelled(posts, label_set, problems=problems,
                             min_posts={label: 0 if label in covered else MIN_POSTS_PER_LABEL for label in label_set})
    own_counts = {label: sum(p.label == label for p in checked) for label in label_set}
    few = {label: k for label, k in own_counts.items() if label in covered and k < MIN_POSTS_PER_LABEL}
    if few:
        notes.append("with --base, labels the shipped corpus has need none of your posts (without it, each needs "
                     f"{MIN_POSTS_PER_LABEL}); these have fewer, so the shipped corpus teaches them and their "
                     "cross-validated scores on your posts rest on few posts: "
                     + ", ".join(f"{label} {k}" for label, k in few.items()))
    if len(checked) < len(posts):
        notes.append(f"{_plural(len(posts) - len(checked), 'repeated post')} (same text, same label) counted once")
    in_test = [bool(hold_out) and is_test_split(p.text, hold_out) for p in checked]
    held = [p for p, test in zip(checked, in_test) if test]
    fit_posts = [p for p, test in zip(checked, in_test) if not test]

    fast = PostClassifier(random_state=random_state)
    model = AccurateClassifier(fast, random_state=random_state) if accurate else fast
    weight = 1.0
    if base_posts:
        weight = max(1.0, BASE_SHARE * len(base_posts) / len(fit_posts))
        notes.append(f"trained on {len(fit_posts)} of your posts, each weighted {weight:.1f}, and "
                     f"{len(base_posts)} posts of the shipped corpus; a model of your posts alone makes "
                     f"{fast.own_model_share:.0%} of the n-gram weights"
                     + (f" and each of your posts weighs {model.own_weight:g} in the encoder's head" if accurate else "")
                     + ("" if {p.label for p in fit_posts} >= set(label_set) else
                        " (not here: your posts do not have every label)"))
    texts = [p.text for p in fit_posts + base_posts]
    # Calibration folds: whole registers of the corpus (each fold's model calibrated on kinds of posts it
    # did not train on, as real posts will be), else whole files; with the corpus mixed in, each own post
    # on its own.
    groups = ([f"row:{p.source}:{p.row}" for p in fit_posts] + [f"base:{_group(p)}" for p in base_posts] if base
              else [_group(p) for p in fit_posts])
    weights = [weight] * len(fit_posts) + [1.0] * len(base_posts)
    extra = {"embeddings": _embeddings(model, texts, progress)} if accurate else {}
    model.fit(
        texts, [p.label for p in fit_posts + base_posts], groups=groups,
        sample_weight=weights if base_posts else None,
        own=[True] * len(fit_posts) + [False] * len(base_posts) if base_posts else None, **extra)

    shipped = None
    if compare and sorted(label_set) == sorted(LABELS):
        try:
            shipped = _shipped_model("postlens-accurate" if accurate else "postlens-base")
        except ModelError as exc:
            shipped = None
            notes.append(f"no comparison with the shipped model ({exc})")
    if shipped is not None:
        if shipped.metadata_.get("training_data", {}).get("sha256") == data_sha256(data):
            shipped = None
            notes.append("these are the shipped model's own training posts: no comparison with it")
    cv, theirs, folds = cross_validate(model, fit_posts, np.arange(len(fit_posts)), shipped)
    held_out = {"test_split": evaluate(model, held)} if held else {}
    for path in [eval_data] if isinstance(eval_data, (str, os.PathLike)) else eval_data:
        held_out[Path(path).name] = evaluate(model, read_labelled([path], label_set))
    result = TrainReport(cv, theirs, folds, held_out, tuple(notes), tuple(fit_posts))
    if out is not None:
        files = corpus_files(data)
        model.save(out, metadata=fit_metadata({
            "training_data": {"files": [f.name for f in files], "sha256": data_sha256(data),
                              "posts": len(posts), "fit_posts": len(fit_posts), "test_posts": len(held),
                              "test_split": f"sha256(text) % 100 < {hold_out}" if hold_out else None,
                              "text_column": text_column, "label_column": label_column,
                              "base": ({"posts": len(base_posts), "sha256": data_sha256([base_corpus_path()]),
                                        "weight_of_own_posts": weight} if base_posts else None)},
            "profile": profile.to_dict(),
            "cross_validation": {k: v for k, v in result.to_dict().items() if k != "held_out"},
            "evaluation": {name: r.to_dict() for name, r in held_out.items()},
        }))
    return model, result


def _group(post: LabelledPost) -> str:
    """The calibration group of a post: its register and language where the data says (the shipped
    corpus does), else its file."""
    return f"{post.register}:{post.lang}" if post.register else (post.source or "")


def fit_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the versions that built the model first (what every saved model records)."""
    from . import __version__
    import sklearn

    return {"postlens_version": __version__, "sklearn_version": sklearn.__version__,
            "python_version": platform.python_version(), **meta}
