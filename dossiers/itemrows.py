"""Writing a dossier's items: one statement for the lot, whatever their number.

`bulk_update` builds a CASE WHEN per column and per item: for a form of twenty items and
eleven columns, most of a submit's time went into building those expressions in Python.
An `UPDATE … FROM (VALUES …)` sends each item as one row of parameters instead, on
PostgreSQL and on SQLite (3.33 and later) alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Field

from dossiers.models import DossierItem

# Rows per statement: far below SQLite's limit on parameters for any number of columns here.
BATCH = 500


def write_items(items: Iterable[DossierItem], fields: Sequence[str]) -> None:
    """Writes `fields` of each of `items` (loaded or locked by the caller, of one
    organisation) as they are in memory."""
    items = list(items)
    if not items:
        return
    meta = DossierItem._meta
    model_fields = [cast(Field, meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [quote(str(field.column)) for field in model_fields]
    row = "({})".format(
        ", ".join(
            f"CAST(%s AS {field.cast_db_type(connection)})" for field in [meta.pk, *model_fields]
        )
    )
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    organization_id = items[0].organization_id
    with connection.cursor() as cursor:
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            params: list[Any] = []
            for item in batch:
                params.append(item.pk)
                params += [
                    field.get_db_prep_save(getattr(item, field.attname), connection)
                    for field in model_fields
                ]
            # Names and casts from the model's own fields; every value is a parameter.
            sql = (
                f"WITH v (id, {', '.join(columns)}) AS (VALUES {', '.join([row] * len(batch))}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v "
                f"WHERE {table}.id = v.id AND {table}.organization_id = %s"
            )
            cursor.execute(sql, [*params, organization_id])
