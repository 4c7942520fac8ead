"""Helping a team label: which labels are probably wrong, and which posts to label next.

- :func:`check_labels` reads out-of-fold probabilities (each post scored by a model that did
  not see it) the way confident learning does (Northcutt et al., 2021): a label's threshold
  is the average probability the model gives that label on the posts that carry it; a post
  whose probability for another label reaches that label's threshold, and is the highest
  such, is probably mislabelled.
- :func:`suggest` labels an unlabelled archive and picks the posts the model is least sure
  about (smallest margin between its two likeliest labels), spread out so that near-copies of
  one confusing post do not fill the list.
"""
from __future__ import annotations

import codecs
import csv
import heapq
import io
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .archive import ArchiveError, RecordWriter, Rejected, open_archive, output_format, output_path
from .guidelines import ProfileLike
from .model import PostClassifier
from .text import normalize_many

__all__ = ["Suspect", "check_labels", "Suggestion", "Suggestions", "suggest", "write_rows", "filled_labels",
           "labelling_output"]


def _snippet(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True)
class Suspect:
    """A row whose label is probably wrong."""

    where: str  #: file and row
    text: str
    label: str  #: the label it has
    suggested: str  #: the label its out-of-fold probabilities point to
    confidence: float  #: out-of-fold probability of ``suggested``
    label_probability: float  #: out-of-fold probability of ``label``

    @property
    def snippet(self) -> str:
        return _snippet(self.text)

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "label": self.label, "suggested": self.suggested,
                "confidence": round(self.confidence, 4), "label_probability": round(self.label_probability, 4),
                "text": self.text}


def find_label_issues(proba: np.ndarray, given: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose given label (a column index) is probably wrong, most suspicious first, and the label each points to.

    ``proba`` are out-of-fold probabilities (rows: posts, columns: labels).
    """
    k = proba.shape[1]
    thresholds = np.array([proba[given == j, j].mean() if np.any(given == j) else 1.0 for j in range(k)])
    above = proba >= thresholds - 1e-12
    masked = np.where(above, proba, -1.0)
    confident = masked.argmax(axis=1)
    has = above.any(axis=1)
    issues = np.flatnonzero(has & (confident != given))
    issues = issues[np.lexsort((issues, proba[issues, given[issues]]))]
    return issues, confident[issues]


def check_labels(data: str | Path | Sequence[str | Path], *, text_column: str | None = None, label_column: str | None = None,
                 labels: Sequence[str] | None = None, profile: ProfileLike = None,
                 base: bool | None = None, random_state: int = 0) -> list[Suspect]:
    """Rows of labelled ``data`` whose label is probably wrong, most suspicious first.

    Trains as :func:`postlens.train` does (same checks, same options) and reads each
    post's out-of-fold probabilities. ``base`` (default: whenever the label set shares labels
    with the codebook) mixes in the shipped corpus: on a few hundred posts a model of those
    alone misclassifies too many correct rows to tell them from wrong ones. Raises
    :class:`~postlens.corpus.DataError` like training.
    """
    from .labels import LABELS
    from .training import train

    if base is None:
        base = bool(set(labels if labels is not None else LABELS) & set(LABELS))
    model, result = train(data, None, text_column=text_column, label_column=label_column, labels=labels,
                          profile=profile, base=base, random_state=random_state, compare=False)
    posts = result.posts
    proba = model.cv_proba_[: len(posts)]
    classes = [str(c) for c in model.classes_]
    given = np.array([classes.index(p.label) for p in posts])
    issues, suggested = find_label_issues(proba, given)
    return [Suspect(posts[i].where, posts[i].text, posts[i].label, classes[j], float(proba[i, j]),
                    float(proba[i, given[i]])) for i, j in zip(issues.tolist(), suggested.tolist())]


@dataclass(frozen=True)
class Suggestion:
    """An unlabelled post worth labelling: its input row, the record as read, and the model's guess."""

    row: int
    record: dict
    guess: str
    confidence: float
    margin: float  #: probability of the likeliest label minus the second (small: the model cannot decide)

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, **self.record, "label": "", "model_guess": self.guess,
                "model_confidence": round(self.confidence, 4)}


class Suggestions(list):
    """The picked :class:`Suggestion` objects, most useful first; ``rejected`` lists the rows of the
    archive that had no usable text (so could not be considered), each with its row and reason."""

    def __init__(self, picked: Sequence[Suggestion] = (), rejected: Sequence[Rejected] = ()):
        super().__init__(picked)
        self.rejected = list(rejected)


def suggest(source: str | os.PathLike, n: int = 50, *, model: PostClassifier, text_column: str | None = None,
            pool: int | None = None) -> Suggestions:
    """The ``n`` posts of an unlabelled archive whose labels would teach ``model`` most.

    Every post is labelled (streaming: memory holds only the ``pool`` most uncertain, default
    ``max(20 n, 1000)``); from that pool, posts are picked one at a time by uncertainty times
    distance from the posts already picked (cosine distance of the model's features), so the
    list covers different kinds of posts rather than one confusing kind many times. Rows
    without usable text are listed in the result's ``rejected``.
    """
    pool = pool or max(20 * n, 1000)
    archive = open_archive(source, text_column=text_column)
    heap: list[tuple[float, int, int, dict, str, np.ndarray]] = []
    rejected: list[Rejected] = []
    for chunk in archive.chunks():
        rejected += chunk.rejected
        if not chunk.texts:
            continue
        docs = normalize_many(chunk.texts)
        proba = model.predict_proba_normalized(docs)
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        for m, row, record, doc, p in zip(margin.tolist(), chunk.rows, chunk.records, docs, proba):
            item = (-m, -row, row, record, doc, p)  # keep the smallest margins; earlier rows win ties
            if len(heap) < pool:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    if not heap:
        return Suggestions(rejected=rejected)
    items = sorted(heap, key=lambda it: (-it[0], it[2]))  # most uncertain first
    feats = model.transform([it[4] for it in items]).astype(np.float64)
    norms = np.sqrt(np.asarray(feats.multiply(feats).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    feats = feats.multiply(1 / norms[:, None]).tocsr()
    uncertainty = np.array([1.0 + it[0] for it in items])  # 1 - margin
    closest = np.zeros(len(items))  # highest similarity to any post picked so far
    picked: list[int] = []
    available = np.ones(len(items), dtype=bool)
    for _ in range(min(n, len(items))):
        score = np.where(available, uncertainty * (1.0 - closest), -np.inf)
        i = int(score.argmax())
        picked.append(i)
        available[i] = False
        closest = np.maximum(closest, (feats @ feats[i].T).toarray().ravel())
    classes = [str(c) for c in model.classes_]
    return Suggestions([Suggestion(items[i][2], items[i][3], classes[int(items[i][5].argmax())],
                                   float(items[i][5].max()), -items[i][0]) for i in picked], rejected)


def filled_labels(path: str | os.PathLike) -> int | None:
    """How many rows of the existing table at ``path`` have something in their ``label`` column
    (0 for an empty file or one whose labels are all blank), or ``None`` if it cannot be read as a
    table with a ``label`` column (so whether labels were typed into it cannot be told).

    Reads what a spreadsheet may have saved: CSV/TSV in UTF-8 (with or without a byte-order mark),
    UTF-16 or GB18030, separated by commas, tabs or semicolons; JSONL; Parquet.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return 0
        fmt = output_format(path)
        if fmt == "parquet":
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            table = pq.ParquetFile(path)
            names = [n for n in table.schema_arrow.names if n.strip().lower() == "label"]
            if not names:
                return None
            column = table.read(columns=names[:1]).column(0).cast("string")
            return int(pc.sum(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)).as_py() or 0)
        raw = path.read_bytes()
    except Exception:  # unreadable, damaged, a directory, an unknown extension: cannot tell
        return None
    text = _decoded(raw)
    if fmt == "jsonl":
        n, labelled = 0, False
        for line in text.split("\n"):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line broken by hand (or blank): the others still count
            keys = [k for k in record if k.strip().lower() == "label"] if isinstance(record, dict) else []
            if keys:
                labelled = True
                n += record[keys[0]] is not None and str(record[keys[0]]).strip() != ""
        return n if labelled else (0 if not text.strip() else None)
    if not text.strip():
        return 0
    first = text.split("\n", 1)[0]
    delimiter = max("\t;,", key=first.count) if fmt == "csv" else "\t"
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [h.strip().lower() for h in next(rows)]
        if "label" not in header:
            return None
        i = header.index("label")
        return sum(len(row) > i and row[i].strip() != "" for row in rows)
    except csv.Error:
        return None


def _decoded(raw: bytes) -> str:
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding, "replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def _numbered(path: Path, k: int) -> Path:
    return path if k == 1 else path.with_name(f"{path.stem}-{k}{path.suffix}")


def labelling_output(path: str | os.PathLike, *, refuse: bool = False) -> tuple[Path, str | None]:
    """Where :func:`suggest`'s posts may be written without losing labels: ``path`` if it does not exist
    or its ``label`` column is blank, else the first such of ``STEM-2.EXT``, ``STEM-3.EXT``, ...
    Returns the path and, if it is not ``path``, why (to tell the user). ``refuse=True``: raise
    :class:`~postlens.archive.ArchiveError` instead of picking another name.
    """
    path = output_path(path)
    output_format(path)
    for k in itertools.count(1):
        candidate = _numbered(path, k)
        if not candidate.exists():
            break
        n = filled_labels(candidate)
        if n == 0:
            break
        if k == 1:
            why = (f"{path} has {n} label{'' if n == 1 else 's'} filled in" if n is not None else
                   f"{path} exists and cannot be read as a table with a 'label' column, so it may hold labels")
            if refuse:
                raise ArchiveError(f"{why}; postlens suggest never overwrites it: give another -o FILE, or move "
                                   f"{path.name} away first")
    if candidate == path:
        return path, None
    return candidate, f"{why}: not overwritten; writing to {candidate} instead"


def write_rows(path: str | os.PathLike, rows: Sequence[dict]) -> Path:
    """Write ``rows`` (dicts) to ``path`` in the format of its extension (CSV, TSV, JSONL, Parquet)."""
    fmt = output_format(path)
    path = output_path(path)
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["row"]
    writer = RecordWriter(path, fmt, columns, header=True)
    writer.write(rows)
    writer.close()
    return path
