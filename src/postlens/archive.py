"""Reading and writing archives of posts: CSV/TSV, JSONL, Parquet, Hugging Face datasets, stdin.

A reader yields :class:`Chunk`\\ s of records (dicts: column → value, in input order) with
their row numbers, and every row it could not use as a :class:`Rejected` with its row
number and the reason, so that every input row is accounted for: rows read = records +
rejected. Nothing here knows about labels; :mod:`postlens.batch` labels the records.

Text formats are read as UTF-8 by default; a byte-order mark says the file's encoding
(UTF-8, UTF-16 or UTF-32). A row with bytes that do not decode is rejected, not the file, but
a file whose first block is mostly not UTF-8 is refused up front, naming the likely encoding.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import itertools
import json
import math
import operator
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence

import orjson

__all__ = ["Archive", "ArchiveError", "Chunk", "Rejected", "open_archive", "output_format", "output_path", "RecordWriter",
           "join_parts", "find_column", "resolve_text_columns", "TEXT_COLUMNS", "archive_fingerprint"]

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


def archive_fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size and a SHA-256 of the first and last MiB and 62 blocks of 4 KiB spread between
    (a cheap content check that an edit of the same size does not pass)."""
    path = Path(path)
    if path.is_dir():  # a saved dataset: its files
        files = sorted(p for p in path.rglob("*") if p.is_file())
        h = hashlib.sha256()
        for p in files:
            h.update(str(p.relative_to(path)).encode("utf-8", "surrogatepass"))
            h.update(bytes.fromhex(archive_fingerprint(p)["sha256_sampled"]))
        return {"path": str(path.resolve()), "bytes": sum(p.stat().st_size for p in files),
                "sha256_sampled": h.hexdigest()}
    size = path.stat().st_size
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            for k in range(1, 63):
                f.seek((size - (1 << 20)) * k // 63)
                h.update(f.read(4096))
            f.seek(size - (1 << 20))
            h.update(f.read(1 << 20))
        elif size > 1 << 20:
            h.update(f.read())
    return {"path": str(path.resolve()), "bytes": size, "sha256_sampled": h.hexdigest()}


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


def _text_column_names(text_column: str) -> list[str]:
    """The column names in a ``--text-column`` value ("title+digest"); an :class:`ArchiveError` if one is empty."""
    names = [name.strip() for name in text_column.split("+")]
    if not all(names):
        raise ArchiveError(f"--text-column {text_column!r}: a column name is missing; give one column, "
                           "or several joined with + (title+digest)")
    return names


def resolve_text_columns(columns: Sequence[str], text_column: str | None, where: str) -> tuple[str, ...]:
    """The column(s) whose values make a post's text; several are joined with a line break.

    ``text_column`` names one column or several joined with ``+`` ("title+digest"). Without it,
    the first of :data:`TEXT_COLUMNS` that exists is used, else title and digest together, else
    whichever of them exists.
    """
    if text_column:
        return tuple(find_column(columns, n, (), where) for n in _text_column_names(text_column))  # type: ignore[misc]
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
        columns: the input's columns in order (for JSONL: those of the first object, however late it comes).
        text_columns: the column(s) the post's text comes from.
        total_rows: number of rows if the format says so up front, else ``None``.
        total_bytes: size of the file if known, for progress.
        warnings: problems found while reading that the rejected rows alone do not make plain
            (an unclosed CSV quote), one line each.
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
        self.warnings: list[str] = []  # what the caller should tell the user, found while reading
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
    def chunks(self, size: int = 2048, skip: int = 0, max_bytes: int | None = None) -> Iterator[Chunk]:
        """Chunks of up to ``size`` rows, after skipping the first ``skip`` rows (to resume); a chunk
        also ends once its rows reach ``max_bytes`` (bytes of the file for text formats, else
        characters of the posts' texts), so that memory is bounded however long the rows."""
        rows = {"csv": self._csv_rows, "tsv": self._csv_rows, "jsonl": self._jsonl_rows,
                "parquet": self._table_rows, "dataset": self._table_rows}[self.format]()
        chunk, seen, in_chunk, text_of = Chunk(), 0, 0, self.text_of
        max_bytes, start, chars = max_bytes or 1 << 62, self.bytes_read, 0  # bytes_read: where the chunk starts
        for number, line, item in rows:
            seen += 1
            if seen <= skip:
                start = self.bytes_read
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
                    chars += len(text)
            in_chunk += 1
            if in_chunk >= size or (self.bytes_read - start or chars) >= max_bytes:
                yield chunk
                chunk, in_chunk, start, chars = Chunk(), 0, self.bytes_read, 0
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

    def _decoded(self) -> Iterator[str]:
        """The lines as text (bytes that do not decode kept as lone surrogates), kept in ``_row_lines`` too."""
        encoding, row_lines = self._encoding, self._row_lines
        for line in self._lines():
            text = line.decode(encoding, "surrogateescape")
            row_lines.append(text)
            yield text

    def _open_csv(self, delimiter: str) -> None:
        """Read the header line now, so a bad text column is reported before any work starts."""
        self._row_lines: list[str] = []  # the lines of the row being read (cleared before each), to check its quotes
        self._csv_delimiter = delimiter
        self._reader = csv.reader(self._decoded(), delimiter=self._csv_delimiter)
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
            self._row_lines.clear()
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
            if reader.line_num > line and _unclosed(self._row_lines, delimiter):
                opened = reader.line_num - fields[-1].count("\n") + fields[-1].endswith("\n")
                reason = (f"the quote opened on line {opened} is never closed: the {reader.line_num - opened + 1:,} "
                          "lines from there to the end of the file were read as one field")
                self.warnings.append(f"{self.name}: {reason}; that row (row {number:,}) is rejected; close the quote "
                                     "and run again to label the rows in those lines")
                yield number, line, Rejected(number, reason, line, "".join(self._row_lines).encode(
                    encoding, "surrogateescape").decode(encoding, "backslashreplace"))
            elif len(fields) != width:
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
            # The fast parser reads UTF-8 (what it refuses takes the path below), but makes big integers floats.
            if utf8 and not _lossy(line):
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
                record = _loads(text)
            except json.JSONDecodeError as exc:
                message = exc.msg.removesuffix(" at")  # some of json's messages end in "at" already
                yield number, line_no, Rejected(number, f"broken JSON ({message} at column {exc.colno})", line_no,
                                                text.rstrip("\r\n"))
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
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:  # pyarrow raises several kinds for damaged data, naming no file
                raise ArchiveError(f"{self.name}: damaged, cannot read on from row {number + 1:,} "
                                   f"({_one_line(exc)})") from None
            if batch is None:
                return
            for record in batch:
                number += 1
                yield number, None, record


# Every digit as 0: an integer that may not fit 64 bits is then found as fast as a substring
# (a positive one of 19 digits fits).
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_MAY_NOT_FIT = (b"0" * 20, b"-" + b"0" * 19)


def _int(text: str) -> int | str:
    """A JSON integer as a number if it fits 64 bits (what JSON output can write back), else as its text."""
    if len(text) > 20:
        return text
    value = int(text)
    return value if -2**63 <= value < 2**64 else text


def _float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def _lossy(line: bytes) -> bool:
    """True if ``line`` may have an integer beyond 64 bits, which orjson would read as a float."""
    digits = line.translate(_DIGITS)
    return _MAY_NOT_FIT[0] in digits or _MAY_NOT_FIT[1] in digits


def _loads(text: str) -> Any:
    """JSON, keeping as their text the numbers output could not write back the same: integers beyond
    64 bits, NaN, Infinity and numbers too large for a float."""
    return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=str)


def _unclosed(lines: list[str], delimiter: str) -> bool:
    """True if the row in ``lines`` ends inside a quoted field (at the end of the file: the
    reader takes everything after an unclosed quote as one field, without complaint)."""
    try:
        next(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


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
    if text_column:
        _text_column_names(text_column)  # a malformed one is refused before anything is read
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
    stream = open(path, "rb", buffering=_HEAD)  # noqa: SIM115 - closed when the archive is garbage-collected
    archive = _open_stream(stream, str(path), text_column, encoding, fmt)
    archive.total_bytes = path.stat().st_size
    if fmt == "jsonl" and not archive.columns:  # no object in the first block: look on, however far it is
        with open(path, "rb", buffering=_HEAD) as again:
            _take_columns(archive, _open_stream(again, str(path), text_column, encoding, fmt))
    return archive


def _open_stream(stream: BinaryIO, name: str, text_column: str | None, encoding: str, fmt: str | None = None) -> Archive:
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, _HEAD)  # type: ignore[arg-type]
    head = buffered.peek(_HEAD)[:_HEAD]
    encoding = next((bom_encoding for bom, bom_encoding in _BOMS if head.startswith(bom)), encoding)
    codec = codecs.lookup(encoding).name
    if codec.startswith(("utf-16", "utf-32")):  # 0x0A bytes are not line breaks there: read it as UTF-8
        buffered, encoding = io.BufferedReader(_Recoded(buffered, encoding), _HEAD), "utf-8"
        head = buffered.peek(_HEAD)[:_HEAD]
    elif codec == "utf-8":
        _check_utf8(head, name)
    if fmt is None:
        first = head.lstrip(codecs.BOM_UTF8).lstrip()
        fmt = "jsonl" if first.startswith(b"{") or not first else "csv"
    archive = Archive(name, fmt, text_column=text_column, encoding=encoding, stream=buffered)
    if fmt in ("csv", "tsv"):
        archive._open_csv("\t" if fmt == "tsv" else _sniff(head.lstrip(codecs.BOM_UTF8), encoding))
    else:  # JSONL: take the columns from the first object in the complete lines of the first block
        lines = io.BytesIO(head[: head.rfind(b"\n") + 1])
        _take_columns(archive, Archive(name, fmt, text_column=text_column, encoding=encoding, stream=lines))
    return archive


def _take_columns(archive: Archive, source: Archive) -> None:
    """Give JSONL ``archive`` the columns of the first object that ``source`` (the same lines) reads,
    however many broken lines come before it: the columns of CSV or Parquet output are fixed from it."""
    for _ in source._jsonl_rows():
        if source.columns:
            archive.columns, archive.text_columns = source.columns, source.text_columns
            return


_HEAD = 1 << 16  # bytes of a text file looked at before reading: its encoding, format, delimiter, columns
#: Byte-order marks and the encoding each says (UTF-32 LE's begins with UTF-16 LE's, so it comes first).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# What does not decode from UTF-16/32 becomes a byte that is not UTF-8 either, so its row is rejected.
codecs.register_error("postlens.unreadable", lambda exc: ("\udcff", exc.end))


class _Recoded(io.RawIOBase):
    """A UTF-16 or UTF-32 stream read as UTF-8 bytes, so that lines split at the text's line breaks."""

    def __init__(self, stream: BinaryIO, encoding: str):
        self._stream, self._pending = stream, b""
        self._decoder = codecs.getincrementaldecoder(encoding)("postlens.unreadable")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            data = self._stream.read(_HEAD)
            self._pending = self._decoder.decode(data, final=not data).encode("utf-8", "surrogateescape")
            if not data:
                break
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _check_utf8(head: bytes, name: str) -> None:
    """Refuse a file whose first block is clearly not UTF-8 (every row would be rejected), naming
    ``--encoding`` and the likely encoding; a stray undecodable line only has its row rejected."""
    if head.count(0) > len(head) // 16:  # NULs, in one byte of two: UTF-16 without a byte-order mark
        order = "le" if head[1::2].count(0) > head[::2].count(0) else "be"
        raise ArchiveError(f"{name}: looks like UTF-16 text without a byte-order mark; give --encoding "
                           f"utf-16-{order}, or convert it to UTF-8")
    lines = head.split(b"\n")[:-1]  # the last may be cut short
    wide = [i for i, line in enumerate(lines) if not line.isascii()]
    bad = [i for i in wide if not _decodes(lines[i], "utf-8")]
    if len(bad) < 2 or 2 * len(bad) <= len(wide):
        return
    likely = ("it reads as GB18030 (GBK), the usual encoding of Chinese Excel and WeChat exports: give "
              "--encoding gb18030, or convert it with iconv -f GB18030 -t UTF-8"
              if all(_decodes(lines[i], "gb18030") for i in bad)
              else "give its encoding with --encoding (e.g. cp1252, big5, shift_jis), or convert it to UTF-8")
    raise ArchiveError(f"{name}: not UTF-8 text ({len(bad)} of the first {len(lines)} lines do not decode, the "
                       f"first is line {bad[0] + 1}); {likely}")


def _open_dataset(path: Path, text_column: str | None) -> Archive:
    if not ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        raise ArchiveError(f"{path}: a directory, but not a dataset saved with save_to_disk")
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        raise ArchiveError("reading a saved dataset needs the 'datasets' package: pip install datasets") from None
    info = path / "dataset_info.json"
    if info.is_file():  # read here too, so that a damaged one is named (load_from_disk raises anything)
        try:
            datasets.DatasetInfo.from_dict(json.loads(info.read_bytes()))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise ArchiveError(f"{info}: not a valid dataset description ({type(exc).__name__}: {exc}); "
                               "save the dataset again with save_to_disk") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:  # e.g. a damaged .arrow file, which pyarrow does not name
        raise ArchiveError(f"{path}: not a readable saved dataset ({_one_line(exc)})") from None
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


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Writing ``path``: an OSError that names no file (disk full, say) is raised again naming it."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


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
        with writing(self.path):
            self._write(records, added)

    def _write(self, records: Sequence[dict], added: Sequence[Sequence[Any]]) -> None:
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
        with writing(self.path):
            return self._close()

    def _close(self) -> Any:
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
    with writing(out):
        _join_parts(parts, out, fmt, columns)


def _join_parts(parts: Sequence[Path], out: Path, fmt: str, columns: Sequence[str]) -> None:
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
