"""Links of a list's rows: a pattern reversed once, each row's UUID put in its place.

A page of a hundred rows reverses one pattern a hundred times with only the row's UUID
changing, and each `reverse` walks the resolver again (about a tenth of a millisecond). A
UUID reads the same in any path converter, so the pattern reversed with a sample UUID,
split where the sample stands, gives every row's URL by concatenation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

SAMPLE = uuid.UUID(int=0)


def row_link(
    view_name: str, *args: Any, current_app: str | None = None
) -> Callable[[uuid.UUID], str]:
    """`reverse(view_name, args=[*args, a_uuid])` for any UUID, reversed once per process.

    Raises NoReverseMatch as `reverse` does.
    """
    head, tail = _around(
        view_name, tuple(str(arg) for arg in args), get_urlconf(), get_script_prefix(), current_app
    )
    return lambda value: f"{head}{value}{tail}"


@lru_cache(maxsize=1024)
def _around(
    view_name: str, args: tuple[str, ...], urlconf: Any, prefix: str, current_app: str | None
) -> tuple[str, str]:
    # `prefix` is in the key only: reverse() reads the script prefix of the request itself.
    url = reverse(view_name, urlconf, args=[*args, SAMPLE], current_app=current_app)
    head, found, tail = url.rpartition(str(SAMPLE))
    if not found:
        raise NoReverseMatch(view_name)
    return head, tail
