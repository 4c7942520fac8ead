"""Adapting the fast model to one archive: the accurate model labels a sample, a fast model learns from it.

The accurate model (``postlens-accurate``) reads posts better than the fast one, but at about
30 posts a second. :func:`adapt` gets most of its knowledge into a fast model for one archive:

1. it reads the archive and picks a sample of its posts (``sample``, stratified by account when
   there is an account column, each account's share of the sample as its share of the posts;
   within an account, posts in the order of a hash of their text, so the same archive gives
   the same sample; repeated posts count once);
2. the accurate model (the *teacher*) labels the sample, its encoder's vectors moved by the
   difference between the sample's mean vector and its training posts' (the archive's domain
   shift, see :meth:`~postlens.accurate.AccurateClassifier.predict_proba_normalized`);
3. a fast model is trained on the shipped corpus plus the sample with the teacher's labels,
   and saved as an ordinary fast model whose metadata says what it was adapted on. It keeps
   the teacher's probabilities of the sample's posts (a hash of each post, not its text): it
   has learnt those posts' labels by heart, and its own probabilities for them would be
   overconfident (on dev adapted on all its posts: ECE 0.28 and no wrong label flagged,
   against the teacher's 0.05 and 54%).

The adapted model labels the archive as fast as the shipped fast model, with the wording of
the archive's own accounts learnt from the teacher (issue 13 measured +0.05 to +0.08 macro-F1
on real posts). Rows without usable text are skipped and written to ``OUT.errors.jsonl``.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .archive import ArchiveError, archive_fingerprint, find_column, jsonl_line, open_archive
from .core import Classifier, ModelLike, resolve_model
from .model import PostClassifier, post_keys
from .text import normalize_many

__all__ = ["adapt", "AdaptReport", "DEFAULT_SAMPLE", "archive_fingerprint"]

#: Posts of the archive the teacher labels by default (about a minute on 2 cores).
DEFAULT_SAMPLE = 2000
#: Weight of each pseudo-labelled post in the fast model's fit (a corpus post weighs 1).
PSEUDO_WEIGHT = 1.0


@dataclass(frozen=True)
class AdaptReport:
    """What :func:`adapt` did."""

    archive: str
    rows_read: int
    usable: int  #: rows with usable text, repeated posts counted once
    rejected: int
    sample: int
    accounts: int | None  #: accounts the sample was stratified over (``None``: no account column)
    teacher: str
    mix: dict[str, int]  #: the teacher's labels of the sample
    seconds: float
    output: str
    errors: str | None
    notes: tuple[str, ...] = field(default=())

    def format(self) -> str:
        mix = ", ".join(f"{k} {v}" for k, v in self.mix.items())
        line = (f"read {self.rows_read:,} rows ({self.usable:,} distinct usable posts, {self.rejected:,} rejected); "
                f"{self.teacher} labelled a sample of {self.sample:,}"
                + (f" over {self.accounts:,} account{'s' * (self.accounts != 1)}" if self.accounts else "")
                + f" ({mix}); adapted fast model written to {self.output} in {self.seconds:.0f} s")
        if self.errors:
            line += f"; rejected rows are in {self.errors}"
        return "\n".join([line, *self.notes])


def _pick(keys: np.ndarray, accounts: np.ndarray | None, n: int) -> np.ndarray:
    """Indices of ``n`` posts: the smallest keys, per account in proportion to its posts (largest remainder)."""
    if len(keys) <= n:
        return np.arange(len(keys))
    if accounts is None:
        return np.sort(np.argsort(keys, kind="stable")[:n])
    names, of = np.unique(accounts, return_inverse=True)
    sizes = np.bincount(of, minlength=len(names))
    exact = n * sizes / sizes.sum()
    quota = np.floor(exact).astype(int)
    quota[np.argsort(-(exact - quota), kind="stable")[: n - quota.sum()]] += 1
    picked = [np.flatnonzero(of == a)[np.argsort(keys[of == a], kind="stable")[:q]] for a, q in enumerate(quota) if q]
    return np.sort(np.concatenate(picked))


def adapt(source: str | os.PathLike, out: str | os.PathLike, *, sample: int = DEFAULT_SAMPLE,
          text_column: str | None = None, account_column: str | None = None,
          teacher: ModelLike = "postlens-accurate", encoding: str = "utf-8", progress: bool = False,
          log: Callable[[str], None] = lambda s: None) -> tuple[PostClassifier, AdaptReport]:
    """Fit a fast model to the archive ``source`` and save it to the directory ``out``.

    Args:
        source: the archive (CSV/TSV, JSONL, Parquet, a saved dataset), labelled or not: only
            its texts are read.
        out: the model directory to write (an existing model there is replaced only when the
            new one is complete).
        sample: how many of its posts the teacher labels (more: slower, a little better).
        text_column: the text column (default: found by name; ``title+digest`` joins two).
        account_column: the account column to stratify the sample by (default: found by name,
            see :data:`postlens.report.ACCOUNT_COLUMNS`; none found: no stratification).
        teacher: the model that labels the sample (default: the shipped accurate model).
        progress: show progress bars on stderr.

    Returns the adapted model and an :class:`AdaptReport`. Raises
    :class:`~postlens.archive.ArchiveError` if the archive cannot be read or has no usable post,
    and :class:`~postlens.encoder.EncoderError` if the teacher's encoder is not installed.
    """
    from .report import ACCOUNT_COLUMNS
    from .training import base_corpus_path, fit_metadata

    started = time.perf_counter()
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise ValueError(f"sample must be a whole number of posts, 1 or more; got {sample!r}")
    if str(source) == "-":
        raise ArchiveError("adapt reads the archive twice: give a file, not standard input")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ArchiveError(f"{out}: is a file; adapt writes a model directory")
    if not out.parent.is_dir():
        raise ArchiveError(f"{out}: the directory {out.parent} does not exist")
    archive = open_archive(source, text_column=text_column, encoding=encoding)  # a bad archive is said first
    teacher_model: Classifier = resolve_model(teacher)
    where = str(source)

    # Pass 1: a key per distinct usable post (and its account); rejected rows to the errors file.
    errors_path = Path(str(out) + ".errors.jsonl")
    rows_read = rejected = 0
    rows, keys, accounts = [], [], []
    seen: set[int] = set()
    account_col: str | None = None
    bar = _bar(progress, archive.total_rows, "reading")
    with open(errors_path.with_name(errors_path.name + ".tmp"), "wb") as errors:
        for chunk in archive.chunks():
            if account_col is None and archive.columns:
                account_col = find_column(archive.columns, account_column, ACCOUNT_COLUMNS, where, "account") or ""
            errors.writelines(jsonl_line(r.to_dict()) for r in chunk.rejected)
            rejected += len(chunk.rejected)
            rows_read += chunk.n_rows
            chunk_keys = post_keys([" ".join(text.split()) for text in chunk.texts]).tolist()
            for row, record, key in zip(chunk.rows, chunk.records, chunk_keys):
                if key in seen:
                    continue
                seen.add(key)
                rows.append(row)
                keys.append(key)
                if account_col:
                    accounts.append(str(record.get(account_col)))
            if bar is not None:
                bar.update(chunk.n_rows)
    if bar is not None:
        bar.close()
    if rejected:
        os.replace(errors_path.with_name(errors_path.name + ".tmp"), errors_path)
    else:
        os.unlink(errors_path.with_name(errors_path.name + ".tmp"))
        if errors_path.exists():
            errors_path.unlink()  # from an earlier run
    if not keys:
        raise ArchiveError(f"{where}: no row has usable text to adapt to"
                           + (f" ({rejected:,} rejected: see {errors_path})" if rejected else ""))
    picked = _pick(np.array(keys, dtype=np.uint64), np.array(accounts, dtype=object) if account_col else None, sample)
    wanted = {rows[i] for i in picked}

    # Pass 2: the picked posts' texts.
    texts: list[str] = []
    for chunk in open_archive(source, text_column=text_column, encoding=encoding).chunks():
        texts.extend(t for r, t in zip(chunk.rows, chunk.texts) if r in wanted)

    log(f"{_describe(teacher_model)['name']} labels a sample of {len(texts):,} posts")
    docs = normalize_many(texts)
    bar = _bar(progress, len(docs), "teacher labelling")
    proba = _teacher_proba(teacher_model, docs, bar)
    if bar is not None:
        bar.close()
    classes = [str(c) for c in teacher_model.classes_]
    pseudo = [classes[j] for j in proba.argmax(axis=1)]
    mix = {c: pseudo.count(c) for c in classes}
    n_accounts = len(set(accounts)) if account_col else None

    log("training the adapted fast model")
    model, meta = _fit_student(texts, pseudo, base_corpus_path())
    model.remember_taught(docs, proba)
    fingerprint = archive_fingerprint(source)
    meta["adapted"] = {"archive": fingerprint, "rows_read": rows_read, "distinct_posts": len(keys),
                       "rejected": rejected, "sample": len(texts), "requested_sample": sample,
                       "account_column": account_col or None, "accounts": n_accounts,
                       "pseudo_weight": PSEUDO_WEIGHT, "teacher": _describe(teacher_model),
                       "teacher_read_archive_shift": getattr(teacher_model, "embedding_mean_", None) is not None,
                       "teacher_labels": mix}
    model.save(out, metadata=fit_metadata(meta))
    report = AdaptReport(where, rows_read, len(keys), rejected, len(texts), n_accounts,
                         _describe(teacher_model)["name"], mix, time.perf_counter() - started, str(out),
                         str(errors_path) if rejected else None)
    return model, report


def _teacher_proba(teacher: Classifier, docs: list[str], bar: Any) -> np.ndarray:
    from .accurate import AccurateClassifier

    if isinstance(teacher, AccurateClassifier):
        embeddings = teacher.embed(docs, progress=bar.update if bar is not None else None)
        return teacher.predict_proba_normalized(docs, embeddings=embeddings, archive=embeddings)
    proba = teacher.predict_proba_normalized(docs)
    if bar is not None:
        bar.update(len(docs))
    return proba


def _fit_student(texts: list[str], pseudo: list[str], corpus: Path) -> tuple[PostClassifier, dict]:
    """A fast model of the shipped corpus (less its test split, as the shipped model) plus the
    pseudo-labelled posts; its temperature is fitted on calibration folds that hold out whole
    registers of the corpus, as the shipped model's."""
    from .corpus import data_sha256, is_test_split, read_labelled
    from .training import _group

    base = [p for p in read_labelled([corpus]) if not is_test_split(p.text, 10)]
    own = {" ".join(t.split()) for t in texts}
    base = [p for p in base if " ".join(p.text.split()) not in own]
    model = PostClassifier()
    model.fit([p.text for p in base] + texts, [p.label for p in base] + pseudo,
              groups=[f"base:{_group(p)}" for p in base] + [f"archive:{i % 10}" for i in range(len(texts))],
              sample_weight=[1.0] * len(base) + [PSEUDO_WEIGHT] * len(texts))
    meta = {"training_data": {"files": None, "sha256": None, "posts": len(base) + len(texts),
                              "base": {"posts": len(base), "sha256": data_sha256([corpus]),
                                       "test_split": "sha256(text) % 100 < 10 left out"},
                              "pseudo_labelled": len(texts)}}
    return model, meta


def _describe(model: Classifier) -> dict:
    meta = getattr(model, "metadata_", {}) or {}
    path = getattr(model, "path_", None)
    return {"name": Path(path).name if path else type(model).__name__, "path": path,
            "sha256": meta.get("head_sha256") or meta.get("weights_sha256")}


def _bar(enabled: bool, total: int | None, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" posts", unit_scale=True, file=sys.stderr, desc=desc, dynamic_ncols=True)
