"""A re-import's shortcut: a row whose cells are those the last import of its profile read,
under the same mapping, and whose profile still holds what that import left, is unchanged;
it costs its reading and two digests, not the validation of each cell.

Both digests are compared, so that nothing another door wrote since is missed: a value
changed by staff, an answer, the API or a write-back changes the digest of what is on
file, and the row is then read, checked and written as any other. Rows naming a company
take no shortcut: the company they name is found again each time (it may have been
renamed, or a namesake created).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings

from imports.mapping import REFERENCE
from imports.reading import Cell
from profiles.models import DataField

# Raised when what a digest covers changes: the old ones then match nothing.
VERSION = b"1"


def salt(
    *,
    kind: str,
    mapping: Mapping[int, str],
    decimals: Mapping[int, str],
    date_style: str,
    fields: Iterable[DataField],
    options: Mapping[str, Any],
) -> bytes | None:
    """What decides how cells are read, besides the cells: the mapping, the decimal marks,
    the date style, the fields' types and choices, the options. None: no shortcut."""
    if "company" in mapping.values():
        return None
    # As JSON, keys sorted: the same reading describes itself the same in every process (a
    # repr would name the lazy labels of LANGUAGES by their address).
    described = json.dumps(
        [
            kind,
            sorted(mapping.items()),
            sorted(decimals.items()),
            date_style,
            sorted(
                [f.pk, str(f.uuid), f.type, f.choices, f.translations, f.archived_at is None]
                for f in fields
            ),
            options.get("match_field") or "",
            [code for code, _name in settings.LANGUAGES],
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.blake2b(VERSION + described.encode(), digest_size=16).digest()


def of_cells(salt: bytes, cells: Sequence[Cell], columns: Sequence[int]) -> str:
    """A row's cells as its mapping reads them (the mapped ones, and how many there are)."""
    read = [(cells[n].value, cells[n].error) if n < len(cells) else None for n in columns]
    return hashlib.blake2b(repr((len(cells), read)).encode(), digest_size=16, key=salt).hexdigest()


def of_state(reference: str, identity: Mapping[str, Any], values: Mapping[int, Any]) -> str:
    """What a profile holds for the attributes and fields a row sets."""
    return hashlib.blake2b(
        repr((reference, sorted(identity.items()), sorted(values.items()))).encode(),
        digest_size=16,
    ).hexdigest()


def present(
    cells: Sequence[Cell], mapping: Mapping[int, str], text: Any
) -> tuple[list[str], list[str]]:
    """The attributes and field keys ("field:<uuid>") a row sets: its mapped cells that are
    not empty (an empty cell leaves the value on file), by `text`, the parser's reading."""
    attributes: list[str] = []
    fields: list[str] = []
    for number, key in mapping.items():
        if key == REFERENCE or number >= len(cells) or text(cells[number]) == "":
            continue
        (fields if key.startswith("field:") else attributes).append(key)
    return attributes, fields
