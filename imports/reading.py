"""Reading a spreadsheet into rows of text: CSV (`,` `;` or tab, UTF-8 or Windows-1252, with
or without a byte-order mark) and XLSX (openpyxl, read-only, values never evaluated).

A file that cannot be read whole is refused with one message (`FileRefused`); a cell that
cannot be read (a formula) is an error on its cell, reported with its row, and the rest goes on.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

from django.utils.translation import gettext as _

from organizations.csvexport import restore

MAX_FILE_BYTES = 50 * 1024 * 1024
# What an XLSX may unpack to: a zip bomb is refused before openpyxl opens it.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100
# openpyxl holds a workbook's shared strings in memory whole, even read-only (some ten times
# their size): bounded apart, so that one upload cannot take a web worker's memory.
MAX_SHARED_STRINGS_BYTES = 10 * 1024 * 1024
MAX_COLUMNS = 200
DELIMITERS = (",", ";", "\t")
# What is read of a file to tell its kind and whether it holds anything.
SNIFF_BYTES = 64 * 1024


def _NOT_A_WORKBOOK() -> str:
    return _("This file is not an Excel workbook (.xlsx) that can be read.")


class FileRefused(ValueError):
    """The file as a whole cannot be imported; the message says why, for the person."""


class Cell(NamedTuple):
    """A cell as read: text (CSV, or an XLSX's text), or the date or number an XLSX holds.
    A tuple: a file of 100,000 rows makes millions of them, each pass."""

    value: Any
    error: str = ""


@dataclass
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[Cell]]]
    notes: list[str] = field(default_factory=list)
    delimiter: str = ""
    encoding: str = ""
    # Lets the file go when its rows are not read to the end (imports.jobs.table_of).
    close: Callable[[], None] = field(default=lambda: None)


def read(
    source: bytes | IO[bytes],
    filename: str,
    *,
    encoding: str | None = None,
    check: bool = True,
) -> Table:
    """The file's headings, and its rows as they are read from `source` (a seekable binary
    file, read a line at a time: never held whole, neither as bytes nor as text).

    `encoding` is a CSV's, when an earlier reading told it (`detect_encoding`); with `check`,
    a CSV is read through once first, so that a stray quote refuses it before a row is taken.
    """
    stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    if not head.strip() and len(head) < SNIFF_BYTES:
        raise FileRefused(_("The file is empty."))
    if stream.seek(0, io.SEEK_END) > MAX_FILE_BYTES:
        raise FileRefused(too_large())
    stream.seek(0)
    if head[:4] == b"PK\x03\x04":
        return _read_xlsx(stream)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise FileRefused(_NOT_A_WORKBOOK())
    return _read_csv(stream, encoding or detect_encoding(stream), check=check)


def too_large() -> str:
    return _("The file is larger than %(size)s MB: split it into several files.") % {
        "size": MAX_FILE_BYTES // (1024 * 1024)
    }


def detect_encoding(stream: IO[bytes]) -> str:
    """UTF-8 (with or without its byte-order mark) when every byte of the file decodes as
    such, else Windows-1252, French Excel's "CSV (separator: semicolon)"; read by chunks.
    A NUL byte refuses the file: it is no text."""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    first = True
    while chunk := stream.read(1 << 20):
        if b"\x00" in chunk:
            raise FileRefused(_("This file is not a CSV or an Excel workbook (.xlsx)."))
        if first and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        first = False
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    stream.seek(0)
    return "utf-8-sig" if utf8 else "cp1252"


def sniff_delimiter(text: str) -> str:
    """The separator of the heading line: the one of `,` `;` tab it holds most, outside
    quotes. A heading of one column has none, and reads the same with any."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in text.split("\n", 1)[0]:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return max(DELIMITERS, key=lambda d: counts[d])


def _read_csv(stream: IO[bytes], encoding: str, *, check: bool) -> Table:
    stream.seek(0)
    # Excel writes the mark before Windows-1252 as before UTF-8: left out in either.
    start = 3 if stream.read(3) == b"\xef\xbb\xbf" else 0

    def text() -> io.TextIOWrapper:
        stream.seek(start)
        # cp1252 leaves five bytes undefined: replaced, as a whole decode did.
        return io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")

    wrapper = text()
    try:
        delimiter = sniff_delimiter(wrapper.readline())
    finally:
        wrapper.detach()  # the file is the caller's: a wrapper let go would close it

    def lines() -> Generator[tuple[int, list[str]]]:
        wrapper = text()
        reader = csv.reader(wrapper, delimiter=delimiter, strict=True)
        last = 0
        try:
            for values in reader:
                yield reader.line_num, values
                last = reader.line_num
        except csv.Error as error:
            raise FileRefused(
                _(
                    "Line %(line)s cannot be read (%(error)s): a quote is probably not closed. "
                    "Correct it and upload the file again."
                )
                % {"line": last + 1, "error": error}
            ) from None
        finally:
            wrapper.detach()

    heading_lines = lines()
    heading = next(heading_lines, None)
    heading_lines.close()
    if heading is None:
        raise FileRefused(_("The heading line cannot be read."))
    headers = [h.strip() for h in heading[1]]
    _check_headers(headers)
    if check:
        # The whole file is read once before anything else, a line at a time: a stray quote
        # anywhere refuses the file before a row is written, rather than half-way through.
        for _line in lines():
            pass

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        body = lines()
        next(body)
        for line, values in body:
            if any(v.strip() for v in values):
                # Only a cell with an apostrophe can hold one an export put there.
                yield line, [Cell(restore(v) if "'" in v else v) for v in values]

    return Table(headers=headers, rows=rows(), delimiter=delimiter, encoding=encoding)


def _check_headers(headers: list[str]) -> None:
    if not any(headers):
        raise FileRefused(_("The first line must name the columns; it is empty."))
    if len(headers) > MAX_COLUMNS:
        raise FileRefused(_("The file has more than %(n)s columns.") % {"n": MAX_COLUMNS})


def _check_zip(stream: IO[bytes]) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(stream)
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRefused(
            _("This file is not an Excel workbook (.xlsx) that can be read.")
        ) from None
    unpacked = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries) or 1
    # The sizes the archive declares are what openpyxl would unpack: refused before it does.
    if unpacked > MAX_UNPACKED_BYTES or unpacked / packed > MAX_RATIO:
        raise FileRefused(
            _("This workbook unpacks to far more than it weighs: it is refused as unsafe.")
        )
    if any(
        entry.filename.lower().endswith("sharedstrings.xml")
        and entry.file_size > MAX_SHARED_STRINGS_BYTES
        for entry in entries
    ):
        raise FileRefused(
            _(
                "This workbook holds more text than an import reads at once: save it as CSV "
                "(which is read a line at a time), or split it."
            )
        )
    return archive


def _read_xlsx(stream: IO[bytes]) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    archive = _check_zip(stream)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        raise FileRefused(
            _("This file is not an Excel workbook (.xlsx) that can be read.")
        ) from None
    notes: list[str] = []
    sheet = workbook.worksheets[0]
    if len(workbook.worksheets) > 1:
        notes.append(
            _("The workbook has %(n)s sheets: only the first, “%(name)s”, is read.")
            % {"n": len(workbook.worksheets), "name": sheet.title}
        )
    merged = _merged_ranges(archive, workbook, sheet)
    if merged:
        raise FileRefused(
            _("The sheet has merged cells (%(ranges)s): unmerge them and upload the file again.")
            % {"ranges": ", ".join(merged[:5])}
        )
    lines = sheet.iter_rows()
    try:
        heading = next(lines)
    except StopIteration:
        raise FileRefused(_("The file is empty.")) from None
    headers = ["" if c.value is None else str(c.value).strip() for c in heading]
    while headers and not headers[-1]:
        headers.pop()
    _check_headers(headers)

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        for number, line in enumerate(lines, start=2):
            cells = [_xlsx_cell(c) for c in line]
            while cells and cells[-1].value in (None, "") and not cells[-1].error:
                cells.pop()
            if cells:
                yield number, cells
        workbook.close()

    return Table(headers=headers, rows=rows(), notes=notes)


def _xlsx_cell(cell: Any) -> Cell:
    value = cell.value
    if getattr(cell, "data_type", None) == "f" or (
        isinstance(value, str) and value.startswith("=") and cell.data_type != "s"
    ):
        return Cell(
            None,
            _("This cell holds a formula: paste its value instead (Paste special > Values)."),
        )
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return Cell(value.date())
    if value is None:
        return Cell("")
    return Cell(value)


def _merged_ranges(archive: zipfile.ZipFile, workbook: Any, sheet: Any) -> list[str]:
    """The merged ranges of the sheet, read from its XML (read-only sheets do not say)."""
    import re

    path = getattr(sheet, "_worksheet_path", None) or "xl/worksheets/sheet1.xml"
    try:
        with archive.open(path.lstrip("/")) as part:
            tail = b""
            found: list[str] = []
            while chunk := part.read(1 << 20):
                text = tail + chunk
                found += [m.decode() for m in re.findall(rb'<mergeCell ref="([A-Z0-9:]+)"', text)]
                tail = text[-200:]
            return sorted(set(found))
    except KeyError:
        return []
