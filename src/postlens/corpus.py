"""Labelled posts: reading them from any archive format, checking them before training, fingerprinting them.

A labelled file is any archive :mod:`postlens.archive` reads (CSV/TSV, JSONL, Parquet, a saved
Hugging Face dataset) with a text column and a label column. A directory that is not a saved
dataset means every ``*.jsonl`` file in it, in name order (that is how ``data/corpus/`` is
laid out; its rows also have ``lang`` and ``register``).

Reading never drops a row silently: a row without usable text or label is a problem, and
:func:`check_labelled` adds the problems a training set can have (unknown labels, the same
text under different labels, labels with too few posts). All problems are reported together
in one :class:`DataError`, each naming the file and row, so a team can fix them in one go.
"""
from __future__ import annotations

import difflib
import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .archive import ArchiveError, find_column, open_archive
from .labels import TAXONOMY

__all__ = ["LabelledPost", "read_labelled", "check_labelled", "corpus_files", "data_sha256", "is_test_split",
           "DataError", "LABEL_COLUMNS", "MIN_POSTS_PER_LABEL"]

#: Column names taken as the label, in order of preference (case-insensitive).
LABEL_COLUMNS = ("label", "labels", "category", "class", "content_type", "type", "标签", "类别", "类型")
#: Fewest posts of a label :func:`check_labelled` accepts (three per cross-validation fold, and one more).
MIN_POSTS_PER_LABEL = 10
_SHOWN = 8  # rows named per problem before "and N more"


class DataError(ValueError):
    """Labelled data that cannot be used: every problem found, each naming the file and row."""


@dataclass(frozen=True)
class LabelledPost:
    text: str
    label: str
    lang: str | None = None
    register: str | None = None
    source: str | None = None  #: name of the file the post was read from
    row: int | None = None  #: 1-based row number in that file

    @property
    def where(self) -> str:
        return f"{self.source} row {self.row}" if self.source and self.row else (self.source or "?")


def corpus_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Expand directories to their ``*.jsonl`` files (sorted), except saved datasets; check that every path exists.

    ``paths`` is a list of paths, or one path."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and not ((p / "state.json").exists() or (p / "dataset_dict.json").exists()):
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise DataError(f"{p}: directory has no .jsonl files (and is not a dataset saved with save_to_disk)")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file or directory")
    return files


def _label_column(columns: Sequence[str], label_column: str | None, where: str) -> str:
    try:
        found = find_column(columns, label_column, LABEL_COLUMNS, where)
    except ArchiveError as exc:
        raise DataError(str(exc)) from None
    if found is None:
        raise DataError(f"{where}: no label column found (looked for {', '.join(LABEL_COLUMNS)}); name it with "
                        f"--label-column (columns: {', '.join(map(str, columns))})")
    return found


def _rows(rows: list[int]) -> str:
    """``row 3`` or ``rows 3, 8 and 12 more``."""
    shown = ", ".join(map(str, rows[:_SHOWN]))
    return ("row " if len(rows) == 1 else "rows ") + shown + (
        f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else "")


def _raise(problems: list[str], what: str) -> None:
    if problems:
        lines = problems[:50] + ([f"... and {len(problems) - 50} more problems"] if len(problems) > 50 else [])
        raise DataError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the {what} (fix them and run "
                        "again; nothing was done):\n  - " + "\n  - ".join(lines))


def read_labelled(paths: str | Path | Iterable[str | Path], labels: Sequence[str] | None = None, *,
                  text_column: str | None = None, label_column: str | None = None,
                  problems: list[str] | None = None) -> list[LabelledPost]:
    """Read labelled posts from files in any archive format (see the module docstring).

    ``text_column`` / ``label_column`` name the columns (default: found by name, e.g. ``text``
    and ``label``). With ``labels``, a label outside that set is a problem too. Raises
    :class:`DataError` listing every row without usable text or label (file and row number);
    given a ``problems`` list, appends them to it instead, and returns the rows it could read
    (so that :func:`check_labelled` can report them with its own).
    """
    posts: list[LabelledPost] = []
    found: list[str] = []
    for path in corpus_files(paths):
        try:
            archive = open_archive(path, text_column=text_column)
        except ArchiveError as exc:
            raise DataError(str(exc)) from None
        column: str | None = None
        empty_label: list[int] = []
        for chunk in archive.chunks():
            for rejected in chunk.rejected:
                found.append(f"{path.name} row {rejected.row}: {rejected.reason}")
            if not chunk.records:
                continue
            column = column or _label_column(archive.columns, label_column, str(path))
            names = archive.class_names.get(column)  # a dataset's ClassLabel: label ids stand for these names
            for record, row, text in zip(chunk.records, chunk.rows, chunk.texts):
                label = record.get(column)
                if names is not None and isinstance(label, int):
                    label = names[label] if 0 <= label < len(names) else None  # -1: the dataset's "no label"
                elif isinstance(label, (int, float)) and not isinstance(label, bool) and label == label:
                    label = str(int(label)) if float(label).is_integer() else str(label)
                if not isinstance(label, str) or not label.strip():
                    empty_label.append(row)
                    continue
                lang, register = record.get("lang"), record.get("register")
                posts.append(LabelledPost(text, label.strip(), lang if isinstance(lang, str) else None,
                                          register if isinstance(register, str) else None, path.name, row))
        if empty_label:
            found.append(f"{path.name} {_rows(empty_label)}: no label (field {column!r} is empty or not text)")
    if labels is not None:
        found += _unknown_labels(posts, labels)
    if problems is None:
        _raise(found, "labelled data")
    else:
        problems += found
    return posts


def _aliases(labels: Sequence[str]) -> dict[str, str]:
    """Lower-case spellings a person may use for each label (its id, and for codebook labels its names)."""
    out = {label.lower(): label for label in labels}
    for t in TAXONOMY:
        if t.id in labels:
            for alias in (t.name, t.name_zh, t.id.replace("_", " "), t.id.replace("_", "-")):
                out.setdefault(alias.lower(), t.id)
    return out


def _unknown_labels(posts: Sequence[LabelledPost], labels: Sequence[str]) -> list[str]:
    allowed, aliases = set(labels), _aliases(labels)
    where: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for p in posts:
        if p.label not in allowed:
            where[p.label][p.source or "?"].append(p.row or 0)
    problems = []
    for label, files in where.items():
        close = aliases.get(label.lower()) or next(
            (aliases[c] for c in difflib.get_close_matches(label.lower(), list(aliases), n=1, cutoff=0.6)), None)
        rows = "; ".join(f"{name} {_rows(rows)}" for name, rows in files.items())
        problems.append(f"unknown label {label!r} in {rows}"
                        + (f"; did you mean {close!r}?" if close else "")
                        + f" (labels: {', '.join(sorted(allowed))})")
    return problems


def check_labelled(posts: Sequence[LabelledPost], labels: Sequence[str] | None = None, *,
                   min_posts: int | Mapping[str, int] = MIN_POSTS_PER_LABEL,
                   problems: Sequence[str] = ()) -> list[LabelledPost]:
    """Check posts before training; returns them with exact repeats (same text, same label) counted once.

    Problems (all reported together in one :class:`DataError`, after ``problems`` found while
    reading): labels outside ``labels``, the same text under different labels, and labels with
    fewer than ``min_posts`` posts (one number for all labels, or one per label), saying how
    many more to label. Texts are compared after trimming and collapsing whitespace.
    """
    problems = list(problems) + (_unknown_labels(posts, labels) if labels is not None else [])
    first: dict[str, LabelledPost] = {}
    conflicts: dict[str, list[LabelledPost]] = {}
    kept: list[LabelledPost] = []
    for p in posts:
        key = " ".join(p.text.split())
        seen = first.get(key)
        if seen is None:
            first[key] = p
            kept.append(p)
        elif seen.label != p.label:
            conflicts.setdefault(key, [seen]).append(p)
    for key, group in conflicts.items():
        rows = ", ".join(f"{p.where} ({p.label!r})" for p in group)
        problems.append(f"the same text has different labels in {rows}: {key[:60]!r}"
                        + ("..." if len(key) > 60 else ""))
    counts: dict[str, int] = defaultdict(int)
    for p in kept:
        counts[p.label] += 1
    for label in (labels if labels is not None else sorted(counts)):
        need = min_posts.get(label, 0) if isinstance(min_posts, Mapping) else min_posts
        if counts[label] < need:
            problems.append(f"label {label!r} has {counts[label]} post{'s' if counts[label] != 1 else ''}; "
                            f"at least {need} are needed: label {need - counts[label]} more")
    if labels is None and len(counts) < 2 and not problems:
        problems.append("training needs at least two different labels")
    _raise(problems, "labelled data")
    return kept


def data_sha256(paths: str | Path | Iterable[str | Path]) -> str:
    """SHA-256 over the files' names and bytes, in order: the training data's fingerprint."""
    digest = hashlib.sha256()
    for path in corpus_files(paths):
        digest.update(path.name.encode("utf-8") + b"\0")
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(file.read_bytes())
    return digest.hexdigest()


def is_test_split(text: str, percent: int = 10) -> bool:
    """Whether a post belongs to the held-out test split: a stable hash of its text.

    Adding or removing other posts never moves a post between the splits.
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") % 100 < percent
