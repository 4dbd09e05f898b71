"""CSV for spreadsheets: streamed, and safe to open in one."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

# A cell starting with these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


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
