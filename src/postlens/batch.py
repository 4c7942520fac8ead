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

import ctypes
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .core import Classifier, ModelLike, default_jobs, label_texts, resolve_model
from .archive import Archive, ArchiveError, Chunk, Rejected, _unique, open_archive, output_format, output_path, resolve_text_columns
from .archive import RecordWriter, archive_fingerprint, join_parts, jsonl_line, merged, writing
from .guidelines import GuidelineProfile, ProfileLike, _plural, resolve_profile
from .text import MAX_CHARS

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["label_archive", "label_file", "label_batch", "label_frame", "LabelledArchive", "LabelSummary",
           "added_columns"]

CHUNK_ROWS = 2048
# A chunk also ends at this many bytes of rows, so memory is bounded however long they are (a worker's
# features take about 100 times the text: 2048 posts of 1 KB cost it some 200 MB, 512 KB of them 45 MB).
CHUNK_BYTES = 512 << 10
_READ = 4 * MAX_CHARS  # the most of a post labelling reads (normalize_many cuts it there): all a worker is sent
PART_ROWS = 50 * CHUNK_ROWS  # rows per part file: the most an interrupted run has to redo


def added_columns(labels: Sequence[str]) -> list[str]:
    """The columns labelling adds, in order."""
    return ["label", *[f"p_{label}" for label in labels], "user_value", "uncertain", "language"]


_TEN_THOUSANDTHS = [repr(k / 10_000) for k in range(10_001)]  # how CSV writes a probability rounded to 4 places


def _label_texts(model: Classifier, texts: Sequence[str], profile: GuidelineProfile | None,
                 text: bool = False) -> dict[str, list]:
    """The added columns for ``texts`` (all usable posts), as lists; ``profile`` ``None``: the model's own.

    Probabilities are rounded to 4 places; ``text=True`` gives them as the text a CSV file holds
    (the same characters the writer would make of the numbers, found in a table 4 times faster).
    """
    b = label_texts(model, texts, profile)
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
_worker: tuple[Classifier, GuidelineProfile | None] | None = None


def _init_worker(model: Classifier, profile: GuidelineProfile | None, parent: int | None = None) -> None:
    global _worker
    _exit_with_parent(parent)
    _worker = (model, profile)


def _exit_with_parent(parent: int | None) -> None:
    """Make this worker exit when the process that started it (``parent``) dies, even by kill -9 or
    the OOM killer, rather than wait for work forever: on Linux the kernel kills it
    (``PR_SET_PDEATHSIG``); elsewhere a thread checks every second that its parent is still there."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1: PR_SET_PDEATHSIG
                if parent is not None and os.getppid() != parent:  # it died before that took effect
                    os._exit(1)
                return
    if parent is not None:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(1)

        threading.Thread(target=watch, name="postlens-parent-watch", daemon=True).start()


def _work(texts: list[str], text: bool) -> dict[str, list]:
    assert _worker is not None
    return _label_texts(_worker[0], texts, _worker[1], text)


def _labelled_chunks(archive: Archive, model: Classifier, profile: GuidelineProfile | None, jobs: int, skip: int = 0,
                     prepare: Callable[[Chunk], None] | None = None,
                     text: bool = False) -> Iterator[tuple[Chunk, dict[str, list]]]:
    """``(chunk, added columns)`` in input order, labelling up to ``2 * jobs`` chunks at a time
    (``text``: probabilities as CSV text, see :func:`_label_texts`); ``jobs`` at most the cores."""
    chunks = archive.chunks(CHUNK_ROWS, skip=skip, max_bytes=CHUNK_BYTES)
    jobs = min(jobs, default_jobs())
    if jobs <= 1:
        for chunk in chunks:
            if prepare:
                prepare(chunk)
            texts = chunk.texts
            yield chunk, (_label_texts(model, texts, profile, text) if texts else {})
        return
    context = multiprocessing.get_context()
    parent = None if context.get_start_method() == "forkserver" else os.getpid()  # the workers' parent process
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(model, profile, parent)) as pool:
        pending: deque[tuple[Chunk, Future | None]] = deque()
        for chunk in chunks:
            if prepare:
                prepare(chunk)
            texts = [t[:_READ] for t in chunk.texts]
            pending.append((chunk, pool.submit(_work, texts, text) if texts else None))
            while len(pending) > 2 * jobs or (pending and pending[0][1] is not None and pending[0][1].done()):
                done, future = pending.popleft()
                yield done, (future.result() if future is not None else {})
        while pending:
            done, future = pending.popleft()
            yield done, (future.result() if future is not None else {})


def _merge(chunk: Chunk, added: dict[str, list], names: Sequence[str]) -> list[dict]:
    return merged(chunk.records, names, list(added.values()))


def _added_names(columns: Sequence[str], labels: Sequence[str], error: bool = False) -> list[str]:
    """Added column names, none of them one of the input's ``columns`` (which pass through unchanged):
    plain, else prefixed ``postlens_``, else ``postlens2_``, ``postlens3_``… (postlens output labelled
    again); ``error``: with the name of :func:`label_batch`'s error column last."""
    taken, k = set(columns), 1
    while True:
        prefix = "" if k == 1 else "postlens_" if k == 2 else f"postlens{k - 1}_"
        names = [prefix + n for n in added_columns(labels)] + [f"{prefix or 'postlens_'}error"] * error
        if taken.isdisjoint(names):
            return names
        k += 1


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

    def __init__(self, archive: Archive, model: Classifier, profile: GuidelineProfile | None, jobs: int):
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
                  model: ModelLike = None, profile: ProfileLike = None,
                  jobs: int = 1, encoding: str = "utf-8") -> LabelledArchive:
    """Label every post of an archive; iterate the result for the labelled rows, in input order.

    ``source`` is a CSV/TSV/JSONL/Parquet path, a directory saved with ``Dataset.save_to_disk``,
    ``"-"`` for stdin or a binary stream. ``text_column`` names the text column ("title+digest"
    joins two); by default it is found by name (see :data:`postlens.archive.TEXT_COLUMNS`).
    Rows without usable text are not yielded; they are in ``.rejected`` with the reason.

    >>> run = postlens.label_archive("posts.csv")          # doctest: +SKIP
    >>> rows = list(run); run.rejected                     # doctest: +SKIP

    ``profile`` (for ``user_value``): a :class:`~postlens.GuidelineProfile`, a shipped profile's
    name (``"ecommerce"``) or a profile TOML file's path; default: the model's own.

    Raises :class:`postlens.archive.ArchiveError` if the archive cannot be read at all.
    """
    profile = resolve_profile(profile)
    return LabelledArchive(open_archive(source, text_column=text_column, encoding=encoding),
                           resolve_model(model), profile, max(1, int(jobs)))


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
        line = (f"read {_plural(self.rows_read, 'row')}: {self.labelled:,} labelled, {self.rejected:,} rejected "
                f"in {self.seconds:.1f} s ({rate:,.0f} rows/s)")
        if self.errors:
            line += f"; rejected rows are in {self.errors}"
        return line + f"; output: {self.output}"


_MARKER = ".postlens-parts"  # in every parts directory postlens makes: no other directory is ever deleted
#: What the keys of a resume's identity are, for the message when one changed.
_IDENTITY = {"path": "the input's path", "bytes": "its size", "sha256_sampled": "its content",
             "mtime_ns": "its modification time", "text_column": "--text-column", "model": "the model",
             "format": "the output format", "profile": "the guideline profile"}


def _fingerprint(path: Path) -> dict:
    """What --resume checks of the input: path, size, modification time and a hash of sampled blocks."""
    return {**archive_fingerprint(path), "mtime_ns": path.stat().st_mtime_ns}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with writing(tmp):
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _model_id(model: Classifier) -> str:
    meta = getattr(model, "metadata_", {}) or {}
    if meta.get("weights_sha256") or meta.get("head_sha256"):
        return str(meta.get("weights_sha256") or meta["head_sha256"] + meta.get("fast_model_sha256", ""))
    fast = getattr(model, "fast_", model)  # not saved: its weights
    return hashlib.sha256(fast.coef_.data.tobytes() + getattr(model, "head_coef_", np.empty(0)).tobytes()).hexdigest()


def _refuse_own_files(source: str | os.PathLike, out: Path) -> None:
    """Refuse an input that labelling into ``out`` would overwrite or delete."""
    if str(source) == "-":
        return
    src = Path(source).resolve()
    if src == out.resolve():
        raise ArchiveError(f"{out}: is the input; write the labelled rows to another file")
    for suffix in (".errors.jsonl", ".parts", ".tmp", ".errors.jsonl.tmp", ".lock"):
        own = out.with_name(out.name + suffix).resolve()
        if src == own or own in src.parents:
            raise ArchiveError(f"{source}: the input is {'in ' * (own in src.parents)}{own}, which labelling into "
                               f"{out} overwrites or deletes; move the input, or write to another output")


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``OUTPUT.lock`` while writing ``out``: another run writing it is refused at once, naming this one.

    An ``flock`` lock, which the kernel releases however the process ends: the file a killed run
    leaves behind blocks nothing. (No lock where there is no ``fcntl``: Windows.)
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = out.with_name(out.name + ".lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ArchiveError(f"{out}: another postlens run (pid {holder}) is writing this output (it holds {path}); "
                               "wait for it to finish, or stop it, then run again") from None
        with suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)  # the run that held it has just removed it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.unlink(path)
        os.close(fd)


def _remove_parts(parts_dir: Path) -> None:
    """Delete the files postlens writes in ``parts_dir``, then the directory if nothing else is in it;
    nothing in a directory without the marker file (not made by postlens)."""
    if not (parts_dir / _MARKER).is_file():
        return
    for path in [*parts_dir.glob("part-[0-9]*"), parts_dir / "manifest.json.tmp", parts_dir / "manifest.json",
                 parts_dir / _MARKER]:
        path.unlink(missing_ok=True)
    with suppress(OSError):  # something else was put there: it stays
        parts_dir.rmdir()


def label_file(source: str | os.PathLike, output: str | os.PathLike | None, *, text_column: str | None = None,
               model: ModelLike = None, profile: ProfileLike = None,
               jobs: int | None = None, resume: bool = False, progress: bool = False,
               encoding: str = "utf-8", log: Callable[[str], None] = lambda s: None) -> LabelSummary:
    """Label ``source`` into ``output`` (format from its extension; ``None``: JSONL on stdout).

    The output appears only when complete (written as parts in ``OUTPUT.parts/``, then joined
    and renamed). ``resume=True`` continues an interrupted run from its last complete part,
    re-reading the input but labelling nothing twice. Rejected rows go to
    ``OUTPUT.errors.jsonl`` (to stderr as JSON lines when writing to stdout). While it runs,
    ``OUTPUT.lock`` refuses another run writing the same output. ``jobs`` is at most the cores.
    """
    started = time.perf_counter()
    model, profile = resolve_model(model), resolve_profile(profile)
    jobs, cores = default_jobs(model) if jobs is None else max(1, int(jobs)), default_jobs()
    if jobs > cores:
        log(f"warning: --jobs {jobs} is more than the {cores} cores this process may use; using {cores}")
        jobs = cores
    archive = open_archive(source, text_column=text_column, encoding=encoding)
    labels = [str(c) for c in model.classes_]
    if output is None or str(output) == "-":
        if resume:
            raise ArchiveError("--resume needs an output file (-o OUTPUT)")
        return _label_to_stdout(archive, model, profile, jobs, labels, started, progress)

    fmt = output_format(output)
    out = output_path(output)
    _refuse_own_files(source, out)
    identity = {**(_fingerprint(Path(source)) if archive.total_bytes is not None or Path(source).is_dir() else {}),
                "text_column": text_column, "model": _model_id(model), "format": fmt}
    if profile is not None:  # the user values follow it (absent, as in manifests written before it was checked: the model's)
        identity["profile"] = profile.to_dict()
    with _locked(out):
        return _label_to_file(archive, out, fmt, identity, model, profile, jobs, resume, progress, log, started)


def _label_to_file(archive: Archive, out: Path, fmt: str, identity: dict, model: Classifier,
                   profile: GuidelineProfile | None, jobs: int, resume: bool, progress: bool,
                   log: Callable[[str], None], started: float) -> LabelSummary:
    """:func:`label_file` into ``out``, whose lock this process holds."""
    labels = [str(c) for c in model.classes_]
    parts_dir = out.with_name(out.name + ".parts")
    manifest_path = parts_dir / "manifest.json"
    errors_path = out.with_name(out.name + ".errors.jsonl")
    if parts_dir.exists() and not (parts_dir / _MARKER).is_file():
        raise ArchiveError(f"{parts_dir}: exists but was not made by postlens (it has no {_MARKER} file), so it is "
                           "neither used nor deleted; move it away, or write to another output")
    state = {"rows_done": 0, "labelled": 0, "rejected": 0, "parts": [], "columns": None}
    if resume and manifest_path.exists():
        saved = json.loads(manifest_path.read_text(encoding="utf-8"))
        changed = [k for k in identity if saved.get("identity", {}).get(k) != identity[k]]
        if changed:
            raise ArchiveError(f"cannot resume into {out}: {', '.join(_IDENTITY.get(k, k) for k in changed)} changed "
                               "since the interrupted run; run without --resume to start over")
        state = saved["state"]
        if state.get("joined") and out.is_file() and [out.stat().st_size, out.stat().st_mtime_ns] == state["joined"]:
            log(f"{out} was already complete (the run ended while removing its parts); removing them now")
            _remove_parts(parts_dir)
            return LabelSummary(state["rows_done"], state["labelled"], state["rejected"],
                                time.perf_counter() - started, str(out), str(errors_path) if state["rejected"] else None)
        log(f"resuming after {state['rows_done']:,} rows ({_plural(len(state['parts']), 'part')} done)")
    else:
        if resume:
            log(f"nothing to resume in {parts_dir}; starting from the beginning")
        elif parts_dir.exists():
            log(f"removing the parts of an earlier interrupted run in {parts_dir} (use --resume to continue one)")
        _remove_parts(parts_dir)
        parts_dir.mkdir(exist_ok=True)
        (parts_dir / _MARKER).write_text("The parts of a `postlens label` run, removed when its output is complete.\n",
                                         encoding="utf-8")
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
            os.replace(part["errors"].path, part["errors"].path.with_suffix(""))
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
        if not fixed or not chunk.records:
            return
        # The output's input columns: fixed when the first part starts, maybe before a stream's first object.
        known = set(state["columns"][: -len(added_columns(labels))] if state["columns"] else archive.columns)
        keep = [i for i, r in enumerate(chunk.records) if known.issuperset(r)]
        if len(keep) == len(chunk.records):
            return
        for i in sorted(set(range(len(chunk.records))) - set(keep)):
            extra = ", ".join(repr(k) for k in chunk.records[i] if k not in known)
            chunk.rejected.append(Rejected(chunk.rows[i], f"has fields the output has no column for ({extra}); write JSONL "
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
                    part["errors"] = RecordWriter(parts_dir / (part["name"].rsplit(".", 1)[0] + ".errors.jsonl.tmp"),
                                                  "jsonl", [], header=False)
                part["errors"].write([r.to_dict() for r in chunk.rejected])
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

    for warning in archive.warnings:
        log(f"warning: {warning}")
    # Join the parts into the output, atomically.
    parts = [parts_dir / p for p in state["parts"]]
    tmp = out.with_name(out.name + ".tmp")
    join_parts(parts, tmp, fmt, state["columns"])  # set when the first part started (a run writes at least one)
    error_parts = sorted(parts_dir.glob("part-*.errors.jsonl"))
    if error_parts:
        err_tmp = errors_path.with_name(errors_path.name + ".tmp")
        join_parts(error_parts, err_tmp, "jsonl", [])
        os.replace(err_tmp, errors_path)
    elif errors_path.exists():
        errors_path.unlink()  # from an earlier run of the same output
    # Complete from here on: a resume after a kill while the parts are removed only finishes removing them.
    state["joined"] = [tmp.stat().st_size, tmp.stat().st_mtime_ns]  # the output's, once renamed
    _write_json(manifest_path, {"identity": identity, "state": state})
    os.replace(tmp, out)
    _remove_parts(parts_dir)
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


def _label_to_stdout(archive: Archive, model: Classifier, profile: GuidelineProfile | None, jobs: int,
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
                profile: ProfileLike = None) -> dict[str, list]:
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
    model, profile = resolve_model(model), resolve_profile(profile)
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
    names = _added_names(archive.columns, labels, error=True)
    for name, key in zip(names, added_columns(labels)):
        column: list = [None] * n
        for i, value in zip(where, added[key]):
            column[i] = value
        out[name] = column
    out[names[-1]] = errors  # postlens_error, unless the batch has such a column
    return out


def frame_dtypes(columns: Sequence[str], labels: Sequence[str]) -> dict[str, str]:
    """The columns :func:`label_frame` adds to a frame with ``columns`` for a model with ``labels``,
    with their pandas dtypes: text as ``"string"`` (missing: ``<NA>``), probabilities and
    ``user_value`` as ``"float64"`` (missing: ``NaN``), ``uncertain`` as the nullable ``"boolean"``.
    (A row without text has only ``postlens_error``; all its other added cells are missing.)"""
    names = _added_names(columns, labels, error=True)
    dtypes = ["string", *["float64"] * (len(labels) + 1), "boolean", "string", "string"]
    return dict(zip(names, dtypes))


def label_frame(frame: Any, *, text_column: str | None = None, model: ModelLike = None,
                profile: ProfileLike = None) -> Any:
    """A copy of a pandas ``DataFrame`` with the columns of :func:`label_batch` added, typed
    as :func:`frame_dtypes` says (so that Arrow and Parquet writers know every column's type).

    The unit of work for engines that hand out pandas partitions::

        ddf.map_partitions(postlens.label_frame, meta=postlens.batch.frame_meta(ddf))  # Dask
        postlens.spark.label_dataframe(sdf)                                  # Spark (mapInPandas)

    An empty frame gives the empty frame with the added columns, typed (Dask's ``meta``).
    """
    if not (hasattr(frame, "columns") and hasattr(frame, "copy")):
        raise TypeError(f"label_frame takes a pandas DataFrame, not {type(frame).__name__}")
    import pandas as pd

    columns = _unique([str(c) for c in frame.columns], "frame")
    names = resolve_text_columns(columns, text_column, "frame")
    classifier, profile = resolve_model(model), resolve_profile(profile)
    labels = [str(c) for c in classifier.classes_]
    added = label_batch({name: frame[name].tolist() for name in names}, text_column="+".join(names),
                        model=classifier, profile=profile)
    dtypes = frame_dtypes(columns, labels)
    # label_batch saw only the text columns: name its columns as they go into the whole frame (never over one of its own)
    renamed = dict(zip(_added_names(names, labels, error=True), dtypes))
    out = frame.copy()
    for name, values in added.items():
        name = renamed[name]
        out[name] = (np.asarray(values, dtype=np.float64) if dtypes[name] == "float64"  # None -> NaN
                     else pd.array(values, dtype=dtypes[name]))
    return out


def frame_meta(frame: Any, *, text_column: str | None = None, model: ModelLike = None) -> Any:
    """The empty pandas frame :func:`label_frame` makes of ``frame``: every column, typed, no row.

    For Dask, which must know a result's columns and types before it computes anything::

        ddf.map_partitions(postlens.label_frame, meta=postlens.batch.frame_meta(ddf))

    ``frame`` is a Dask or pandas ``DataFrame`` (only its columns and their types are used; no
    row is read), a ``dict`` of column name to dtype, or a list of column names (typed
    ``object``). ``text_column`` and ``model`` as for :func:`label_frame`: the text column is
    checked here, before any work, and the model (loaded once per process) names the columns.
    """
    import pandas as pd

    if hasattr(frame, "_meta") and hasattr(frame, "map_partitions"):  # a Dask DataFrame: its empty pandas frame
        frame = frame._meta
    if hasattr(frame, "columns") and hasattr(frame, "iloc"):
        empty = frame.iloc[:0]
    elif isinstance(frame, (str, bytes)) or not hasattr(frame, "__iter__"):
        raise TypeError(f"frame_meta takes a DataFrame, a dict of column types or a list of column names, "
                        f"not {type(frame).__name__}")
    elif hasattr(frame, "items"):
        empty = pd.DataFrame({str(c): pd.Series([], dtype=t) for c, t in frame.items()})
    else:
        empty = pd.DataFrame({str(c): pd.Series([], dtype=object) for c in frame})
    return label_frame(empty, text_column=text_column, model=model)
