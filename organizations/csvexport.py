"""CSV for spreadsheets: streamed, and safe to open in one."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, transaction

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


# A superset of `_DANGEROUS` without its look-behind, which a database tests much faster:
# most values have no formula's sign where a piece starts, and it leaves them alone.
_MAYBE_DANGEROUS = rf"(?:^|[{_SEPARATORS}])['\" ]*[=+\-@\t\r]"

# What `str.strip()` takes off both ends (`str.isspace`), for a database to strip the same.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def neutralise(text: str) -> str:
    """`text` with every piece a spreadsheet could read as a formula made text."""
    return _DANGEROUS.sub("'", text)


def restore(text: str) -> str:
    """The value `neutralise` was given: the inverse, for reading an export back."""
    return _NEUTRALISED.sub("", text)


def neutralise_sql(column: str) -> tuple[str, list[str]]:
    """PostgreSQL's expression for `neutralise` of the text `column` (its regular
    expressions take these patterns as Python writes them), for a file the database writes."""
    return (
        f"CASE WHEN {column} ~ %s THEN regexp_replace({column}, %s, '''', 'g') ELSE {column} END",
        [_MAYBE_DANGEROUS, _DANGEROUS.pattern],
    )


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


def copied_lines(
    sql: str, params: Sequence[Any], header: Sequence[str], size: int = 1 << 16
) -> Iterator[bytes]:
    """The rows of the PostgreSQL query `sql` as CSV that the database writes (`COPY … TO
    STDOUT`), after the byte-order mark and `header`, in chunks of about `size` bytes.

    A CSV reader reads from it what it reads from `csv_lines` of the same values; the lines
    end with a line feed, as `COPY` writes them. The query neutralises its text itself
    (`neutralise_sql`) and gives NULL for an empty value, which `COPY` writes as nothing
    (an empty text it would quote). Formatting each line in Python took several times the
    database's own time (docs/PERFORMANCE.md, the export)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(value) for value in header])
    yield ("\ufeff" + buffer.getvalue()).encode()
    chunk = bytearray()
    with (
        connection.wrap_database_errors,
        # A reader who stops early: psycopg cancels the COPY on the way out, which fails
        # the transaction it ran in. It runs in one of its own (a savepoint inside another),
        # rolled back then; the connection stays usable.
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
    ):
        for block in copy:  # a line each
            chunk += block
            if len(chunk) >= size:
                yield bytes(chunk)
                chunk.clear()
    if chunk:
        yield bytes(chunk)
