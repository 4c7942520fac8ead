"""Labelled posts on disk: reading them, fingerprinting them, splitting them.

A labelled file is JSONL, one post per line with at least ``text`` and ``label`` (the shipped
corpus in ``data/corpus/`` also has ``lang`` and ``register``). A directory means every
``*.jsonl`` file in it, in name order.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["LabelledPost", "read_labelled", "corpus_files", "data_sha256", "is_test_split", "DataError"]


class DataError(ValueError):
    """A labelled file that cannot be used, naming the file, line and field."""


@dataclass(frozen=True)
class LabelledPost:
    text: str
    label: str
    lang: str | None = None
    register: str | None = None
    source: str | None = None  #: name of the file the post was read from


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their ``*.jsonl`` files (sorted); check that every file exists."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.jsonl"))
            if not found:
                raise DataError(f"{p}: directory has no .jsonl files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: no such file or directory")
    return files


def read_labelled(paths: Iterable[str | Path], labels: Sequence[str] | None = None) -> list[LabelledPost]:
    """Read labelled JSONL files; raise :class:`DataError` naming the file and line of a bad row.

    With ``labels``, a label outside that set is an error too.
    """
    posts: list[LabelledPost] = []
    allowed = set(labels) if labels is not None else None
    for path in corpus_files(paths):
        with open(path, encoding="utf-8", errors="strict") as fh:
            try:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                    if not isinstance(row, dict):
                        raise DataError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
                    text, label = row.get("text"), row.get("label")
                    if not isinstance(text, str) or not text.strip():
                        raise DataError(f"{path}:{n}: field 'text' is missing or empty")
                    if not isinstance(label, str) or not label:
                        raise DataError(f"{path}:{n}: field 'label' is missing or not a string")
                    if allowed is not None and label not in allowed:
                        raise DataError(f"{path}:{n}: unknown label {label!r} (expected one of "
                                        f"{', '.join(sorted(allowed))})")
                    posts.append(LabelledPost(text, label, row.get("lang"), row.get("register"), path.name))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return posts


def data_sha256(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the files' names and bytes, in order: the training data's fingerprint."""
    digest = hashlib.sha256()
    for path in corpus_files(paths):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_test_split(text: str, percent: int = 10) -> bool:
    """Whether a post belongs to the held-out test split: a stable hash of its text.

    Adding or removing other posts never moves a post between the splits.
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") % 100 < percent
