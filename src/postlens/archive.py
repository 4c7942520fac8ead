"""Reading and writing archives of posts: CSV/TSV, JSONL, Parquet, Hugging Face datasets, stdin.

A reader yields :class:`Chunk`\\ s of records (dicts: column → value, in input order) with
their row numbers, and every row it could not use as a :class:`Rejected` with its row
number and the reason, so that every input row is accounted for: rows read = records +
rejected. Nothing here knows about labels; :mod:`postlens.batch` labels the records.

Text formats are read as UTF-8 by default (a byte-order mark is fine); a row with bytes
that do not decode is rejected, not the file.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import itertools
import json
import operator
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence

import orjson

__all__ = ["Archive", "ArchiveError", "Chunk", "Rejected", "open_archive", "output_format", "output_path", "RecordWriter",
           "join_parts", "find_column", "resolve_text_columns", "TEXT_COLUMNS"]

#: Column names taken as the post's text, in order of preference (case-insensitive).
TEXT_COLUMNS = ("text", "content", "body", "tweet", "正文", "post", "message")
_TITLES, _DIGESTS = ("title", "标题"), ("digest", "摘要")
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet"}

csv.field_size_limit(2**31 - 1)


class ArchiveError(ValueError):
    """An archive that cannot be read at all (missing file, unknown format or column): one line, no traceback."""


@dataclass(frozen=True)
class Rejected:
    """An input row that could not be labelled.

    Attributes:
        row: 1-based number of the row among the input's rows (a CSV header is not a row).
        reason: what is wrong, naming the field.
        line: the line of the file the row starts on (text formats only).
        raw: the row as read, so nothing is lost.
    """

    row: int
    reason: str
    line: int | None = None
    raw: Any = None

    def to_dict(self) -> dict:
        return {"row": self.row, "line": self.line, "reason": self.reason, "raw": self.raw}


@dataclass
class Chunk:
    """Consecutive input rows: the usable ``records`` (with their row numbers and post texts) and the ``rejected``."""

    records: list[dict] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.records) + len(self.rejected)


def output_format(path: str | os.PathLike | None) -> str:
    """The format written to ``path``, from its extension (``None`` or ``-``: JSONL on stdout)."""
    if path is None or str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ArchiveError(f"{path}: cannot tell the output format from the extension {suffix or '(none)'}; "
                           f"use one of {', '.join(sorted(_FORMATS))}")
    return _FORMATS[suffix]


def output_path(path: str | os.PathLike) -> Path:
    """``path`` as a file to write, or an :class:`ArchiveError` if it cannot be one: its directory
    must exist (a mistyped directory is not created) and it must not be a directory itself."""
    path = Path(path)
    if path.is_dir():
        raise ArchiveError(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise ArchiveError(f"{path}: the directory {path.parent} does not exist")
    return path


def _unique(columns: list[str], where: str) -> list[str]:
    """``columns``, or an :class:`ArchiveError` if two share a name (the second would overwrite the first's values)."""
    seen: dict[str, int] = {}
    for i, column in enumerate(columns, 1):
        if column in seen:
            raise ArchiveError(f"{where}: two columns are named {column!r} (columns {seen[column]} and {i}); "
                               "give each column its own name")
        seen[column] = i
    return columns


def _closest(name: str, columns: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def find_column(columns: Sequence[str], wanted: str | None, candidates: Sequence[str], where: str,
                what: str = "") -> str | None:
    """``wanted`` if given (else an :class:`ArchiveError` naming ``where``, with a did-you-mean), or the
    first of ``candidates`` among ``columns`` (case-insensitive), or ``None``."""
    if wanted:
        if wanted not in columns:
            raise ArchiveError(f"{where}: no {what + ' ' if what else ''}column {wanted!r} "
                               f"(columns: {', '.join(map(str, columns))})" + _closest(wanted, [str(c) for c in columns]))
        return wanted
    lower = {str(c).lower(): c for c in columns}
    return next((lower[n] for n in candidates if n in lower), None)


def resolve_text_columns(columns: Sequence[str], text_column: str | None, where: str) -> tuple[str, ...]:
    """The column(s) whose values make a post's text; several are joined with a line break.

    ``text_column`` names one column or several joined with ``+`` ("title+digest"). Without it,
    the first of :data:`TEXT_COLUMNS` that exists is used, else title and digest together, else
    whichever of them exists.
    """
    if text_column:
        return tuple(find_column(columns, n.strip(), (), where) for n in text_column.split("+"))  # type: ignore[misc]
    found = find_column(columns, None, TEXT_COLUMNS, where)
    if found is not None:
        return (found,)
    lower = {str(c).lower(): c for c in columns}
    title = next((lower[n] for n in _TITLES if n in lower), None)
    digest = next((lower[n] for n in _DIGESTS if n in lower), None)
    found = tuple(c for c in (title, digest) if c is not None)
    if found:
        return found
    raise ArchiveError(f"{where}: no text column found (looked for {', '.join(TEXT_COLUMNS + _TITLES + _DIGESTS)}); "
                       f"name it with --text-column (columns: {', '.join(map(str, columns))})")


def _missing(value: object) -> bool:
    """None, NaN, or pandas' NA (what data frames put in an empty cell)."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType"


def _kind(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean, not text"
    if isinstance(value, (int, float)):
        return "a number, not text"
    if isinstance(value, (list, tuple)):
        return "a list, not text"
    if isinstance(value, dict):
        return "an object, not text"
    if isinstance(value, (bytes, bytearray)):
        return "bytes, not text"
    return f"{type(value).__name__}, not text"


class Archive:
    """An opened input: its format, columns and text column(s), read in chunks with :meth:`chunks`.

    Attributes:
        name: the path, or ``<stdin>``.
        format: ``csv``, ``tsv``, ``jsonl``, ``parquet`` or ``dataset``.
        columns: the input's columns in order (for JSONL: those of the first rows read).
        text_columns: the column(s) the post's text comes from.
        total_rows: number of rows if the format says so up front, else ``None``.
        total_bytes: size of the file if known, for progress.
        class_names: for a saved dataset, the names of each ``ClassLabel`` column's classes (its
            values are their indices), by column.
    """

    def __init__(self, name: str, fmt: str, *, text_column: str | None = None, encoding: str = "utf-8",
                 stream: BinaryIO | None = None, dataset: Any = None, parquet: Any = None):
        self.name, self.format, self._text_column = name, fmt, text_column
        self._encoding, self._stream, self._dataset, self._parquet = encoding, stream, dataset, parquet
        self.columns: list[str] = []
        self.text_columns: tuple[str, ...] = ()
        self.total_rows: int | None = None
        self.total_bytes: int | None = None
        self.bytes_read = 0
        self.class_names: dict[str, list[str]] = {}
        if parquet is not None:
            self.columns = _unique(list(parquet.schema_arrow.names), name)
            self.total_rows = parquet.metadata.num_rows
        elif dataset is not None:
            self.columns = list(dataset.column_names)
            self.total_rows = len(dataset)
            self.class_names = {name: list(feature.names) for name, feature in dataset.features.items()
                                if type(feature).__name__ == "ClassLabel"}
        if self.columns:
            self.text_columns = resolve_text_columns(self.columns, text_column, name)

    # ---- text of a record ---------------------------------------------------------------------
    def text_of(self, record: dict) -> str:
        """The post's text of ``record``; raises ``ValueError`` naming the field if it has none."""
        if len(self.text_columns) == 1:  # the usual case, first: a field holding text
            value = record.get(self.text_columns[0])
            if type(value) is str and not value.isspace() and value:
                return value
        parts = []
        for name in self.text_columns:
            if name not in record:
                raise ValueError(f"no field {name!r}")
            value = record[name]
            if _missing(value):
                value = None
            if isinstance(value, str):
                if value.strip():
                    parts.append(value)
                continue
            if value is None and len(self.text_columns) > 1:
                continue
            raise ValueError(f"field {name!r} is {_kind(value)}")
        if not parts:
            names = " and ".join(repr(n) for n in self.text_columns)
            raise ValueError(f"field {names} is empty" if len(self.text_columns) == 1 else f"fields {names} are empty")
        return "\n".join(parts)

    # ---- reading ------------------------------------------------------------------------------
    def chunks(self, size: int = 2048, skip: int = 0) -> Iterator[Chunk]:
        """Chunks of up to ``size`` rows, after skipping the first ``skip`` rows (to resume)."""
        rows = {"csv": self._csv_rows, "tsv": self._csv_rows, "jsonl": self._jsonl_rows,
                "parquet": self._table_rows, "dataset": self._table_rows}[self.format]()
        chunk, seen, in_chunk, text_of = Chunk(), 0, 0, self.text_of
        for number, line, item in rows:
            seen += 1
            if seen <= skip:
                continue
            if isinstance(item, Rejected):
                chunk.rejected.append(item)
            else:
                try:
                    text = text_of(item)
                except ValueError as exc:
                    chunk.rejected.append(Rejected(number, str(exc), line, item))
                else:
                    chunk.records.append(item)
                    chunk.rows.append(number)
                    chunk.texts.append(text)
            in_chunk += 1
            if in_chunk >= size:
                yield chunk
                chunk, in_chunk = Chunk(), 0
        if in_chunk or seen == 0:
            yield chunk

    def _lines(self) -> Iterator[bytes]:
        stream = self._stream
        first = True
        for line in stream:
            self.bytes_read += len(line)
            if first:
                first = False
                if line.startswith(codecs.BOM_UTF8):
                    line = line[3:]
            yield line

    def _open_csv(self, delimiter: str) -> None:
        """Read the header line now, so a bad text column is reported before any work starts."""
        encoding = self._encoding
        lines = (line.decode(encoding, "surrogateescape") for line in self._lines())
        self._csv_delimiter = delimiter
        self._reader = csv.reader(lines, delimiter=self._csv_delimiter)
        try:
            header = next(self._reader)
        except StopIteration:
            raise ArchiveError(f"{self.name}: the file is empty (a CSV needs a header line)") from None
        except csv.Error as exc:
            raise ArchiveError(f"{self.name}: cannot read the header line ({exc})") from None
        self.columns = _unique(header, self.name)
        self.text_columns = resolve_text_columns(header, self._text_column, self.name)

    def _csv_rows(self) -> Iterator[tuple[int, int | None, Any]]:
        encoding, reader, delimiter, header = self._encoding, self._reader, self._csv_delimiter, self.columns
        width, number, line = len(header), 0, reader.line_num + 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                yield number, line, Rejected(number, f"not a valid CSV row ({exc})", line, None)
                line = reader.line_num + 1
                continue
            if not fields:  # a blank line is not a row
                line = reader.line_num + 1
                continue
            number += 1
            raw = delimiter.join(fields)
            if len(fields) != width:
                yield number, line, Rejected(number, f"has {len(fields)} fields, the header has {width}", line,
                                       raw.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace"))
            elif not _encodable(raw):
                bad = next(name for name, value in zip(header, fields) if not _encodable(value))
                yield number, line, Rejected(number, f"field {bad!r} has bytes that are not valid {encoding}", line,
                                       raw.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace"))
            else:
                yield number, line, dict(zip(header, fields))
            line = reader.line_num + 1

    def _jsonl_rows(self) -> Iterator[tuple[int, int | None, Any]]:
        number = 0
        utf8 = codecs.lookup(self._encoding).name == "utf-8"
        for line_no, line in enumerate(self._lines(), 1):
            if not line.strip():
                continue
            number += 1
            if utf8:  # the fast parser reads UTF-8 bytes; anything it refuses takes the path below for the reason
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    pass
                else:
                    if isinstance(record, dict):
                        if not self.columns:
                            self.columns = list(record)
                            self.text_columns = resolve_text_columns(self.columns, self._text_column, self.name)
                        yield number, line_no, record
                        continue
            try:
                text = line.decode(self._encoding)
            except UnicodeDecodeError as exc:
                yield number, line_no, Rejected(number, f"bytes that are not valid {self._encoding} ({exc.reason} at byte {exc.start})",
                                       line_no, line.decode(self._encoding, "backslashreplace").rstrip("\r\n"))
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, line_no, Rejected(number, f"broken JSON ({exc.msg} at column {exc.colno})", line_no, text.rstrip("\r\n"))
                continue
            if not isinstance(record, dict):
                yield number, line_no, Rejected(number, f"not a JSON object but {_kind(record).split(',')[0]}",
                                       line_no, text.rstrip("\r\n"))
                continue
            if not self.columns:
                self.columns = list(record)
                self.text_columns = resolve_text_columns(self.columns, self._text_column, self.name)
            yield number, line_no, record

    def _table_rows(self) -> Iterator[tuple[int, int | None, Any]]:
        number = 0
        if self._parquet is not None:
            batches = (b.to_pylist() for b in self._parquet.iter_batches(batch_size=4096))
        else:
            batches = (_records(b) for b in self._dataset.iter(batch_size=4096))
        for batch in batches:
            for record in batch:
                number += 1
                yield number, None, record


def _encodable(text: str) -> bool:
    """False if ``text`` holds bytes that did not decode (kept as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _records(batch: dict[str, list]) -> list[dict]:
    keys = list(batch)
    return [dict(zip(keys, values)) for values in zip(*(batch[k] for k in keys))]


def _sniff(head: bytes, encoding: str) -> str:
    sample = head.decode(encoding, "ignore")
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0] + "\n", delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def open_archive(source: str | os.PathLike | BinaryIO, *, text_column: str | None = None,
                 encoding: str = "utf-8") -> Archive:
    """Open an archive for reading: a path (format from its extension, or a saved dataset
    directory), ``"-"`` for stdin, or a binary stream (JSONL or CSV, told apart by its first line).

    Raises :class:`ArchiveError` (one line) if it cannot be opened.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ArchiveError(f"unknown encoding {encoding!r}") from None
    if not isinstance(source, (str, os.PathLike)):
        if not hasattr(source, "read") or isinstance(source, io.TextIOBase):
            raise TypeError(f"an archive is a path, '-' for stdin, or a binary stream, not {type(source).__name__}")
        return _open_stream(source, "<stream>", text_column, encoding)
    if str(source) == "-":
        return _open_stream(sys.stdin.buffer, "<stdin>", text_column, encoding)
    path = Path(source)
    if path.is_dir():
        return _open_dataset(path, text_column)
    if not path.exists():
        raise ArchiveError(f"{path}: no such file")
    suffix = path.suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise ArchiveError(f"{path}: cannot tell the format from the extension {suffix or '(none)'}; "
                           "use .csv, .tsv, .jsonl or .parquet, or a dataset directory saved with save_to_disk")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
            raise ArchiveError(f"{path}: not a readable Parquet file ({exc})") from None
        archive = Archive(str(path), "parquet", text_column=text_column, parquet=parquet)
        archive.total_bytes = path.stat().st_size
        return archive
    stream = open(path, "rb")  # noqa: SIM115 - closed when the archive is garbage-collected
    archive = _open_stream(stream, str(path), text_column, encoding, fmt)
    archive.total_bytes = path.stat().st_size
    return archive


def _open_stream(stream: BinaryIO, name: str, text_column: str | None, encoding: str, fmt: str | None = None) -> Archive:
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = buffered.peek(65536)[:65536]
    if fmt is None:
        first = head.lstrip(codecs.BOM_UTF8).lstrip()
        fmt = "jsonl" if first.startswith(b"{") or not first else "csv"
    archive = Archive(name, fmt, text_column=text_column, encoding=encoding, stream=buffered)
    if fmt in ("csv", "tsv"):
        archive._open_csv("\t" if fmt == "tsv" else _sniff(head.lstrip(codecs.BOM_UTF8), encoding))
    else:  # JSONL: take the columns from the first line if it is a complete record
        first = next((line for line in head.split(b"\n")[:-1] if line.strip()), b"")
        try:
            record = json.loads(first.lstrip(codecs.BOM_UTF8).decode(encoding))
        except (ValueError, UnicodeDecodeError):
            record = None
        if isinstance(record, dict):
            archive.columns = list(record)
            archive.text_columns = resolve_text_columns(archive.columns, text_column, name)
    return archive


def _open_dataset(path: Path, text_column: str | None) -> Archive:
    if not ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        raise ArchiveError(f"{path}: a directory, but not a dataset saved with save_to_disk")
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise ArchiveError("reading a saved dataset needs the 'datasets' package: pip install datasets") from None
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        splits = ", ".join(loaded)
        raise ArchiveError(f"{path}: a dataset with several splits ({splits}); give one split's directory, "
                           f"e.g. {path / next(iter(loaded))}")
    return Archive(str(path), "dataset", text_column=text_column, dataset=loaded)


# ---- writing ------------------------------------------------------------------------------------
_NESTED = frozenset((list, tuple, dict))
_ORJSON = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def merged(records: Sequence[dict], names: Sequence[str], values: Sequence[Sequence[Any]]) -> list[dict]:
    """Each record with the added columns ``names`` (``values``: one list per column) after its own."""
    return [{**r, **dict(zip(names, row))} for r, row in zip(records, zip(*values))]


def jsonl_line(record: dict) -> bytes:
    """One JSONL line (UTF-8, newline included); what JSON cannot hold natively is written as text."""
    return orjson.dumps(record, default=str, option=_ORJSON)


def _cell(value: object) -> object:
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class RecordWriter:
    """Writes records to a new file in ``fmt``, a batch at a time (memory does not grow with the file).

    CSV/TSV cells hold lists and objects as JSON (``plain=True``: there are none, skip the check);
    JSONL keeps each record's own fields; Parquet
    takes its column types from the first batch (or ``schema``) and keeps later values that do
    not fit them as text.
    """

    def __init__(self, path: Path, fmt: str, columns: Sequence[str], *, header: bool, schema: Any = None,
                 plain: bool = False):
        self.path, self.format, self.columns, self.schema = Path(path), fmt, list(columns), schema
        self._plain = plain  # no value is a list or an object (e.g. everything came from a CSV)
        self._parquet: Any = None
        self._file: Any = None
        if fmt in ("csv", "tsv"):
            self._file = open(self.path, "w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._file, delimiter="\t" if fmt == "tsv" else ",")
            if header:
                self._csv.writerow(self.columns)
        elif fmt == "jsonl":
            self._file = open(self.path, "wb")

    def write(self, records: Sequence[dict], added: Sequence[Sequence[Any]] = ()) -> None:
        """Write ``records``; ``added`` holds the values of the last ``len(added)`` columns (one list
        per column, one value per record) when they are not in the records (CSV/TSV rows are then
        built without merging dicts)."""
        if self.format not in ("csv", "tsv"):
            if added:
                records = merged(records, self.columns[len(self.columns) - len(added):], added)
            if self.format == "jsonl":
                self._file.writelines(map(jsonl_line, records))
            elif records:
                self._write_parquet(records)
            return
        inputs = self.columns[: len(self.columns) - len(added)]
        getter = operator.itemgetter(*inputs)
        try:
            rows = list(map(getter, records)) if len(inputs) > 1 else [(getter(r),) for r in records]
        except KeyError:  # records without some columns (from JSONL)
            rows = [tuple(r.get(c) for c in inputs) for r in records]
        if not self._plain and not _NESTED.isdisjoint(map(type, itertools.chain.from_iterable(rows))):
            rows = [tuple(_cell(v) for v in row) for row in rows]
        self._csv.writerows([b + a for b, a in zip(rows, zip(*added))] if added else rows)

    def _write_parquet(self, records: Sequence[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [{c: r.get(c) for c in self.columns} for r in records]
        if self.schema is None:
            table = pa.Table.from_pylist(rows)
            # A column that is empty in the first batch would be typed null; make it text instead.
            self.schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                                     for f in table.schema])
        try:
            table = pa.Table.from_pylist(rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # values that do not fit the first batch's types
            text = [{c: v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
                     for c, v in r.items()} for r in rows]
            table = pa.Table.from_pylist(text, schema=pa.schema([(f.name, pa.string()) for f in self.schema]))
            table = table.cast(self.schema, safe=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, self.schema)
        self._parquet.write_table(table)

    def close(self) -> Any:
        """Finish the file; returns the Parquet schema used (else ``None``)."""
        if self._file is not None:
            self._file.close()
        if self.format == "parquet":
            if self._parquet is None:
                import pyarrow as pa
                import pyarrow.parquet as pq

                schema = self.schema or pa.schema([(c, pa.string()) for c in self.columns])
                pq.write_table(schema.empty_table(), self.path)
                self.schema = schema
            else:
                self._parquet.close()
        return self.schema


def join_parts(parts: Sequence[Path], out: Path, fmt: str, columns: Sequence[str]) -> None:
    """Concatenate part files into ``out`` (CSV/TSV with one header line; Parquet row groups appended)."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(parts[0]) if parts else pa.schema([(c, pa.string()) for c in columns])
        with pq.ParquetWriter(out, schema) as writer:
            for part in parts:
                for batch in pq.ParquetFile(part).iter_batches(batch_size=8192):
                    writer.write_batch(batch if batch.schema == schema else batch.cast(schema))
        return
    with open(out, "wb") as f:
        if fmt in ("csv", "tsv"):
            buf = io.StringIO()
            csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",").writerow(columns)
            f.write(buf.getvalue().encode("utf-8"))
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 20):
                    f.write(block)
