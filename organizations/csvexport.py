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


def csv_lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yields one line per row, after a byte-order mark so that Excel reads UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for row in rows:
        writer.writerow([_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
