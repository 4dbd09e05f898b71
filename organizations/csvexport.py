"""CSV for spreadsheets: streamed, and safe to open in one."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

# A spreadsheet runs a cell starting with one of these as a formula. A cell is any piece of
# a value that follows a separator a spreadsheet may split on, not only the value's start:
# French Excel splits a comma-separated file on `;`, so `Dupont;=cmd|…` would run the part
# after the semicolon. Each such piece gets a leading apostrophe (the spreadsheets' own
# "this is text"), spaces and quotes before the sign counted in, so that `; =…` is caught
# too. Pieces already starting with apostrophes before a sign get one more, so that
# `restore` gives back exactly the value written: what the import reads is what was kept.
_SEPARATORS = ",;\t\r\n"
_FORMULA = r"'*[ \"]*[=+\-@\t\r]"
_PIECE_START = rf"(?:^|(?<=[{_SEPARATORS}]))"
_DANGEROUS = re.compile(rf"{_PIECE_START}(?={_FORMULA})")
_NEUTRALISED = re.compile(rf"{_PIECE_START}'(?={_FORMULA})")


def neutralise(text: str) -> str:
    """`text` with every piece a spreadsheet could read as a formula made text."""
    return _DANGEROUS.sub("'", text)


def restore(text: str) -> str:
    """The value `neutralise` was given: the inverse, for reading an export back."""
    return _NEUTRALISED.sub("", text)


def _cell(value: object) -> str:
    return neutralise("" if value is None else str(value))


def csv_lines(
    rows: Iterable[Iterable[object]], batch: int = 500, *, delimiter: str = ","
) -> Iterator[str]:
    """Yields the rows as CSV, `batch` lines at a time, after a byte-order mark so that Excel
    reads UTF-8. In batches: a streamed response pays per chunk, and a million one-line
    chunks cost more than the lines themselves."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    yield "\ufeff"
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(value) for value in row])
        if n % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
