"""Labelling archives of posts: in chunks, in parallel, in input order, resumable.

- :func:`label_archive` yields every labelled row of an archive (its own fields plus
  ``label``, one ``p_<label>`` probability per label, ``user_value``, ``uncertain`` and
  ``language``) and keeps the rows it could not label in ``.rejected``.
- :func:`label_file` writes them to a file the way the ``postlens label`` command does:
  through part files that are renamed only when complete, so an interrupted run can be
  resumed, and a final file that appears only when everything is written; rejected rows go
  to ``OUTPUT.errors.jsonl``.
- :func:`label_batch` labels a batch of a Hugging Face dataset, for
  ``Dataset.map(postlens.label_batch, batched=True, num_proc=N)``.

Memory stays flat however long the archive: only a few chunks are in flight at a time.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .api import ModelLike, _label, _model
from .archive import Archive, ArchiveError, Chunk, Rejected, _unique, open_archive, output_format, output_path, resolve_text_columns
from .archive import RecordWriter, join_parts, jsonl_line, merged
from .guidelines import GuidelineProfile
from .model import PostClassifier

__all__ = ["label_archive", "label_file", "label_batch", "label_frame", "LabelledArchive", "LabelSummary",
           "added_columns"]

CHUNK_ROWS = 2048
PART_ROWS = 50 * CHUNK_ROWS  # rows per part file: the most an interrupted run has to redo


def added_columns(labels: Sequence[str]) -> list[str]:
    """The columns labelling adds, in order."""
    return ["label", *[f"p_{label}" for label in labels], "user_value", "uncertain", "language"]


_TEN_THOUSANDTHS = [repr(k / 10_000) for k in range(10_001)]  # how CSV writes a probability rounded to 4 places


def _label_texts(model: PostClassifier, texts: Sequence[str], profile: GuidelineProfile | None,
                 text: bool = False) -> dict[str, list]:
    """The added columns for ``texts`` (all usable posts), as lists; ``profile`` ``None``: the model's own.

    Probabilities are rounded to 4 places; ``text=True`` gives them as the text a CSV file holds
    (the same characters the writer would make of the numbers, found in a table 4 times faster).
    """
    b = _label(model, texts, profile)
    out: dict[str, list] = {"label": np.array(b.labels, dtype=object)[b.best].tolist()}
    scaled = np.rint(b.proba.astype(np.float64) * 10_000)  # np.round(proba, 4) is this divided by 10,000
    for j, label in enumerate(b.labels):
        column = scaled[:, j]
        out[f"p_{label}"] = ([_TEN_THOUSANDTHS[k] for k in column.astype(np.int64).tolist()] if text
                             else (column / 10_000).tolist())
    out["user_value"] = b.values.tolist()
    out["uncertain"] = b.uncertain.tolist()
    out["language"] = b.languages
    return out


# ---- worker processes -----------------------------------------------------------------------------
_worker: tuple[PostClassifier, GuidelineProfile | None] | None = None


def _init_worker(model: PostClassifier, profile: GuidelineProfile | None) -> None:
    global _worker
    _worker = (model, profile)


def _work(texts: list[str], text: bool) -> dict[str, list]:
    assert _worker is not None
    return _label_texts(_worker[0], texts, _worker[1], text)


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _labelled_chunks(archive: Archive, model: PostClassifier, profile: GuidelineProfile | None, jobs: int, skip: int = 0,
                     prepare: Callable[[Chunk], None] | None = None,
                     text: bool = False) -> Iterator[tuple[Chunk, dict[str, list]]]:
    """``(chunk, added columns)`` in input order, labelling up to ``2 * jobs`` chunks at a time
    (``text``: probabilities as CSV text, see :func:`_label_texts`)."""
    chunks = archive.chunks(CHUNK_ROWS, skip=skip)
    if jobs <= 1:
        for chunk in chunks:
            if prepare:
                prepare(chunk)
            texts = chunk.texts
            yield chunk, (_label_texts(model, texts, profile, text) if texts else {})
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(model, profile)) as pool:
        pending: deque[tuple[Chunk, Future | None]] = deque()
        for chunk in chunks:
            if prepare:
                prepare(chunk)
            texts = chunk.texts
            pending.append((chunk, pool.submit(_work, texts, text) if texts else None))
            while len(pending) > 2 * jobs or (pending and pending[0][1] is not None and pending[0][1].done()):
                done, future = pending.popleft()
                yield done, (future.result() if future is not None else {})
        while pending:
            done, future = pending.popleft()
            yield done, (future.result() if future is not None else {})


def _merge(chunk: Chunk, added: dict[str, list], names: Sequence[str]) -> list[dict]:
    return merged(chunk.records, names, list(added.values()))


def _added_names(columns: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Added column names; prefixed with ``postlens_`` if the input's ``columns`` already have any of them."""
    names = added_columns(labels)
    if set(names) & set(columns):
        return [f"postlens_{n}" for n in names]
    return names


def _empty_schema(columns: Sequence[str], n_labels: int) -> Any:
    """Arrow schema of labelled Parquet output with no rows: the input columns as text (no value
    tells their type), the added ones typed as they are when rows exist."""
    import pyarrow as pa

    added = [pa.string(), *[pa.float64()] * (n_labels + 1), pa.bool_(), pa.string()]
    inputs = len(columns) - len(added)
    return pa.schema([(c, pa.string()) for c in columns[:inputs]] + list(zip(columns[inputs:], added)))


class LabelledArchive:
    """The labelled rows of an archive, in input order (iterate once).

    Attributes:
        archive: the opened input.
        rejected: the rows that could not be labelled so far, each with its row number and reason.
        rows_read, labelled: counts so far (``rows_read == labelled + len(rejected)``).
    """

    def __init__(self, archive: Archive, model: PostClassifier, profile: GuidelineProfile | None, jobs: int):
        self.archive, self._model, self._profile, self._jobs = archive, model, profile, jobs
        self.rejected: list[Rejected] = []
        self.rows_read = 0
        self.labelled = 0

    def __iter__(self) -> Iterator[dict]:
        labels = [str(c) for c in self._model.classes_]
        names: list[str] | None = None
        for chunk, added in _labelled_chunks(self.archive, self._model, self._profile, self._jobs):
            names = names or _added_names(self.archive.columns, labels)
            self.rejected.extend(chunk.rejected)
            self.rows_read += chunk.n_rows
            self.labelled += len(chunk.records)
            yield from _merge(chunk, added, names)


def label_archive(source: str | os.PathLike | Any, *, text_column: str | None = None,
                  model: ModelLike = None, profile: GuidelineProfile | None = None,
                  jobs: int = 1, encoding: str = "utf-8") -> LabelledArchive:
    """Label every post of an archive; iterate the result for the labelled rows, in input order.

    ``source`` is a CSV/TSV/JSONL/Parquet path, a directory saved with ``Dataset.save_to_disk``,
    ``"-"`` for stdin or a binary stream. ``text_column`` names the text column ("title+digest"
    joins two); by default it is found by name (see :data:`postlens.archive.TEXT_COLUMNS`).
    Rows without usable text are not yielded; they are in ``.rejected`` with the reason.

    >>> run = postlens.label_archive("posts.csv")          # doctest: +SKIP
    >>> rows = list(run); run.rejected                     # doctest: +SKIP

    Raises :class:`postlens.archive.ArchiveError` if the archive cannot be read at all.
    """
    return LabelledArchive(open_archive(source, text_column=text_column, encoding=encoding),
                           _model(model), profile, max(1, int(jobs)))


# ---- to a file, resumably -------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelSummary:
    """What a :func:`label_file` run did: every row read is either labelled or rejected."""

    rows_read: int
    labelled: int
    rejected: int
    seconds: float
    output: str
    errors: str | None

    def format(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds > 0 else 0.0
        line = (f"read {self.rows_read:,} rows: {self.labelled:,} labelled, {self.rejected:,} rejected "
                f"in {self.seconds:.1f} s ({rate:,.0f} rows/s)")
        if self.errors:
            line += f"; rejected rows are in {self.errors}"
        return line + f"; output: {self.output}"


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"input": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _model_id(model: PostClassifier) -> str:
    meta = getattr(model, "metadata_", {}) or {}
    return str(meta.get("weights_sha256") or hashlib.sha256(model.coef_.data.tobytes()).hexdigest())


def label_file(source: str | os.PathLike, output: str | os.PathLike | None, *, text_column: str | None = None,
               model: ModelLike = None, profile: GuidelineProfile | None = None,
               jobs: int | None = None, resume: bool = False, progress: bool = False,
               encoding: str = "utf-8", log: Callable[[str], None] = lambda s: None) -> LabelSummary:
    """Label ``source`` into ``output`` (format from its extension; ``None``: JSONL on stdout).

    The output appears only when complete (written as parts in ``OUTPUT.parts/``, then joined
    and renamed). ``resume=True`` continues an interrupted run from its last complete part,
    re-reading the input but labelling nothing twice. Rejected rows go to
    ``OUTPUT.errors.jsonl`` (to stderr as JSON lines when writing to stdout).
    """
    started = time.perf_counter()
    model = _model(model)
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    archive = open_archive(source, text_column=text_column, encoding=encoding)
    labels = [str(c) for c in model.classes_]
    if output is None or str(output) == "-":
        if resume:
            raise ArchiveError("--resume needs an output file (-o OUTPUT)")
        return _label_to_stdout(archive, model, profile, jobs, labels, started, progress)

    fmt = output_format(output)
    out = output_path(output)
    if str(source) != "-" and out.exists() and out.resolve() == Path(source).resolve():
        raise ArchiveError(f"{out}: is the input; write the labelled rows to another file")
    parts_dir = out.with_name(out.name + ".parts")
    manifest_path = parts_dir / "manifest.json"
    identity = {**(_fingerprint(Path(source)) if archive.total_bytes is not None or Path(source).is_dir() else {}),
                "text_column": text_column, "model": _model_id(model), "format": fmt}
    state = {"rows_done": 0, "labelled": 0, "rejected": 0, "parts": [], "columns": None}
    if resume and manifest_path.exists():
        saved = json.loads(manifest_path.read_text(encoding="utf-8"))
        changed = [k for k in identity if saved.get("identity", {}).get(k) != identity[k]]
        if changed:
            raise ArchiveError(f"cannot resume into {out}: {', '.join(changed)} changed since the interrupted run; "
                               f"run without --resume to start over")
        state = saved["state"]
        log(f"resuming after {state['rows_done']:,} rows ({len(state['parts'])} parts done)")
    else:
        if resume:
            log(f"nothing to resume in {parts_dir}; starting from the beginning")
        elif parts_dir.exists():
            log(f"removing the parts of an earlier interrupted run in {parts_dir} (use --resume to continue one)")
        shutil.rmtree(parts_dir, ignore_errors=True)
        parts_dir.mkdir(parents=True)
        _write_json(manifest_path, {"identity": identity, "state": state})

    bar = _progress(archive, progress, state["rows_done"])
    schema: Any = None
    if fmt == "parquet" and state["parts"]:
        import pyarrow.parquet as pq

        schema = pq.read_schema(parts_dir / state["parts"][0])
    part: dict[str, Any] = {}  # the part being written: its writer, error file and counts

    def start_part() -> None:
        index = len(state["parts"]) + 1
        # Named when the first part starts: a JSONL archive knows its fields once a row is read.
        state["columns"] = state["columns"] or (list(archive.columns) + _added_names(archive.columns, labels))
        name = f"part-{index:05d}.{fmt}"
        part.update(name=name, rows=0, labelled=0, rejected=0, errors=None,
                    writer=RecordWriter(parts_dir / (name + ".tmp"), fmt, state["columns"], header=False, schema=schema,
                                        plain=archive.format in ("csv", "tsv")))

    def finish_part() -> None:
        nonlocal schema
        schema = part["writer"].close()
        if part["errors"] is not None:
            part["errors"].close()
            os.replace(part["errors"].name, part["errors"].name[: -len(".tmp")])
        os.replace(parts_dir / (part["name"] + ".tmp"), parts_dir / part["name"])
        state["parts"].append(part["name"])
        state["rows_done"] += part["rows"]
        state["labelled"] += part["labelled"]
        state["rejected"] += part["rejected"]
        _write_json(manifest_path, {"identity": identity, "state": state})
        part.clear()

    fixed = fmt != "jsonl" and archive.format == "jsonl"

    def prepare(chunk: Chunk) -> None:
        """Rows whose fields differ from the first row's cannot go into CSV/Parquet columns: reject them."""
        if not fixed or not archive.columns:
            return
        known = set(archive.columns)
        keep = [i for i, r in enumerate(chunk.records) if known.issuperset(r)]
        if len(keep) == len(chunk.records):
            return
        for i in sorted(set(range(len(chunk.records))) - set(keep)):
            extra = ", ".join(repr(k) for k in chunk.records[i] if k not in known)
            chunk.rejected.append(Rejected(chunk.rows[i], f"has fields the first row does not ({extra}); write JSONL "
                                           "output to keep fields that vary from row to row", None, chunk.records[i]))
        chunk.rejected.sort(key=lambda r: r.row)
        chunk.records = [chunk.records[i] for i in keep]
        chunk.rows = [chunk.rows[i] for i in keep]
        chunk.texts = [chunk.texts[i] for i in keep]

    try:
        for chunk, added in _labelled_chunks(archive, model, profile, jobs, skip=state["rows_done"], prepare=prepare,
                                             text=fmt in ("csv", "tsv")):
            if not part:
                start_part()
            part["writer"].write(chunk.records, list(added.values()))
            if chunk.rejected:
                if part["errors"] is None:
                    part["errors"] = open(parts_dir / (part["name"].rsplit(".", 1)[0] + ".errors.jsonl.tmp"), "wb")
                part["errors"].writelines(jsonl_line(r.to_dict()) for r in chunk.rejected)
            part["rows"] += chunk.n_rows
            part["labelled"] += len(chunk.records)
            part["rejected"] += len(chunk.rejected)
            _advance(bar, archive, chunk)
            if part["rows"] >= PART_ROWS:
                finish_part()
        if part or not state["parts"]:
            if not part:
                start_part()
            if part["writer"].schema is None and fmt == "parquet":  # not one row written: type the empty file
                part["writer"].schema = _empty_schema(state["columns"], len(labels))  # as rows would have
            finish_part()
    finally:
        if bar is not None:
            bar.close()
        if part:  # interrupted: close the unfinished part's files (they are not renamed, so not kept)
            if part["writer"].format != "parquet":  # an unfinished Parquet file cannot be closed cleanly
                part["writer"].close()
            if part["errors"] is not None:
                part["errors"].close()

    # Join the parts into the output, atomically.
    parts = [parts_dir / p for p in state["parts"]]
    tmp = out.with_name(out.name + ".tmp")
    join_parts(parts, tmp, fmt, state["columns"])  # set when the first part started (a run writes at least one)
    errors_path = out.with_name(out.name + ".errors.jsonl")
    error_parts = sorted(parts_dir.glob("part-*.errors.jsonl"))
    if error_parts:
        err_tmp = errors_path.with_name(errors_path.name + ".tmp")
        join_parts(error_parts, err_tmp, "jsonl", [])
        os.replace(err_tmp, errors_path)
    elif errors_path.exists():
        errors_path.unlink()  # from an earlier run of the same output
    os.replace(tmp, out)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return LabelSummary(state["rows_done"], state["labelled"], state["rejected"], time.perf_counter() - started,
                        str(out), str(errors_path) if error_parts else None)


def _progress(archive: Archive, enabled: bool, done: int):
    """A tqdm bar on stderr (rows with ETA when the row count is known, else bytes of the file)."""
    if not enabled:
        return None
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked after the bar starts
    if archive.total_rows is not None:
        return tqdm(total=archive.total_rows, initial=done, unit=" rows", unit_scale=True, file=sys.stderr,
                    desc="labelling", dynamic_ncols=True)
    if archive.total_bytes:
        return tqdm(total=archive.total_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                    desc="labelling", dynamic_ncols=True)
    return tqdm(unit=" rows", unit_scale=True, file=sys.stderr, desc="labelling", dynamic_ncols=True)


def _write_lines(stream: Any, lines: Iterator[bytes]) -> None:
    """Write UTF-8 lines to a text stream, through its byte buffer when it has one."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.writelines(lines)
        buffer.flush()
    else:  # e.g. a notebook's output stream
        stream.writelines(line.decode("utf-8") for line in lines)


def _advance(bar: Any, archive: Archive, chunk: Chunk) -> None:
    """Move the progress bar past ``chunk`` (in rows, or in bytes of the file when that is its unit)."""
    if bar is not None:
        bar.update(chunk.n_rows if archive.total_rows is not None or archive.total_bytes is None
                   else archive.bytes_read - bar.n)


def _label_to_stdout(archive: Archive, model: PostClassifier, profile: GuidelineProfile | None, jobs: int,
                     labels: list[str], started: float, progress: bool) -> LabelSummary:
    bar = _progress(archive, progress, 0)
    read = labelled = rejected = 0
    out = sys.stdout
    try:
        for chunk, added in _labelled_chunks(archive, model, profile, jobs):
            names = _added_names(archive.columns, labels)
            _write_lines(out, map(jsonl_line, _merge(chunk, added, names)))
            _write_lines(sys.stderr, (jsonl_line({"rejected": r.to_dict()}) for r in chunk.rejected))
            read, labelled, rejected = read + chunk.n_rows, labelled + len(chunk.records), rejected + len(chunk.rejected)
            _advance(bar, archive, chunk)
    finally:
        if bar is not None:
            bar.close()
    out.flush()
    return LabelSummary(read, labelled, rejected, time.perf_counter() - started, "<stdout>",
                        "<stderr>" if rejected else None)


# ---- Hugging Face datasets ------------------------------------------------------------------------
def label_batch(batch: dict[str, list], *, text_column: str | None = None, model: ModelLike = None,
                profile: GuidelineProfile | None = None) -> dict[str, list]:
    """Label a batch of rows given as columns (``dict`` of lists), for ``datasets.Dataset.map``::

        ds = ds.map(postlens.label_batch, batched=True, num_proc=4)

    Returns the added columns (``label``, ``p_<label>``…, ``user_value``, ``uncertain``,
    ``language``; all prefixed ``postlens_`` if the batch has a column of one of those names, as
    a dataset with a ``label`` column does, so that ``map`` does not overwrite it) plus
    ``postlens_error``: ``None``, or why that row has no label (its other added columns are then
    ``None``), so no row is dropped or shifted.
    """
    if not (hasattr(batch, "keys") and hasattr(batch, "__getitem__")) or isinstance(batch, (str, bytes)):
        raise TypeError("label_batch takes a batch of columns: a dict of lists (use map(..., batched=True))")
    model = _model(model)
    labels = [str(c) for c in model.classes_]
    archive = Archive("batch", "dataset-batch", text_column=None)
    archive.columns = list(batch)
    archive.text_columns = resolve_text_columns(archive.columns, text_column, "batch")
    sizes = {str(c): len(v) if hasattr(v, "__len__") and not isinstance(v, (str, bytes)) else None
             for c, v in batch.items()}
    if None in sizes.values() or len(set(sizes.values())) > 1:
        raise ValueError("label_batch takes a batch of columns of equal length, one value per row; got "
                         + ", ".join(f"{c!r}: {'not a list' if k is None else f'{k} values'}" for c, k in sizes.items()))
    n = next(iter(sizes.values()), 0)
    texts, where, errors = [], [], [None] * n
    for i in range(n):
        try:
            texts.append(archive.text_of({c: batch[c][i] for c in archive.text_columns}))
            where.append(i)
        except ValueError as exc:
            errors[i] = str(exc)
    added = _label_texts(model, texts, profile) if texts else {c: [] for c in added_columns(labels)}
    out: dict[str, list] = {}
    for name, key in zip(_added_names(archive.columns, labels), added_columns(labels)):
        column: list = [None] * n
        for i, value in zip(where, added[key]):
            column[i] = value
        out[name] = column
    out["postlens_error"] = errors
    return out


def label_frame(frame: Any, *, text_column: str | None = None, model: ModelLike = None,
                profile: GuidelineProfile | None = None) -> Any:
    """A copy of a pandas ``DataFrame`` with the columns of :func:`label_batch` added.

    The unit of work for engines that hand out pandas partitions::

        ddf.map_partitions(postlens.label_frame)                      # Dask
        sdf.mapInPandas(lambda frames: map(postlens.label_frame, frames), schema)  # Spark
    """
    if not (hasattr(frame, "columns") and hasattr(frame, "copy")):
        raise TypeError(f"label_frame takes a pandas DataFrame, not {type(frame).__name__}")
    columns = _unique([str(c) for c in frame.columns], "frame")
    names = resolve_text_columns(columns, text_column, "frame")
    added = label_batch({name: frame[name].tolist() for name in names}, text_column="+".join(names),
                        model=model, profile=profile)
    labels = [str(c) for c in _model(model).classes_]
    renamed = dict(zip(added_columns(labels), _added_names(columns, labels)))  # never over a column of the frame
    out = frame.copy()
    for name, values in added.items():
        out[renamed.get(name, name)] = values
    return out
