"""Section 4, the purge of dossiers past their retention."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import analyze, clear_dossiers, measured, peak_memory
from bench.sections.fanout import build_fan_out


def prepare_purge(n: int, uploads_every: int) -> int:
    """n update dossiers past their month, one upload in every `uploads_every` on disk."""
    from django.core.files.storage import default_storage

    from dossiers.models import Dossier, DossierItem
    from monitoring.dispatch import open_run

    _org, run, fields = build_fan_out(n)
    clear_dossiers()
    open_run(run.pk)
    Dossier.objects.update(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    items = list(
        DossierItem.objects.filter(field=fields[3]).order_by("id").values_list("id", flat=True)
    )[::uploads_every]
    root = Path(default_storage.location) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    keys = []
    for item_id in items:
        name = uuid.uuid4().hex
        (root / name).write_bytes(b"%PDF-1.4 bench")
        keys.append((item_id, f"uploads/{name}"))
    for start in range(0, len(keys), 5000):
        DossierItem.objects.bulk_update(
            [DossierItem(pk=i, upload=k) for i, k in keys[start : start + 5000]], ["upload"]
        )
    analyze()
    return len(keys)


def bench_purge(n: int, uploads_every: int) -> dict[str, Any]:
    from django.core.files.storage import default_storage, storages

    from dossiers.models import Dossier
    from dossiers.retention import purge_dossiers

    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    storage = storages["default"]
    original = storage.delete
    deletes = {"calls": 0}

    def counting_delete(name: str) -> None:
        deletes["calls"] += 1
        original(name)

    uploads = prepare_purge(n, uploads_every)
    with mock.patch.object(storage, "delete", counting_delete), measured() as result:
        purged = purge_dossiers(now=when)
    assert purged == n and not Dossier.objects.exists()
    left = list((Path(default_storage.location) / "uploads").iterdir())
    assert not left, f"{len(left)} orphan files"
    prepare_purge(n, uploads_every)
    memory = peak_memory(lambda: purge_dossiers(now=when))
    return {
        "n": n,
        "uploads": uploads,
        "seconds": result["seconds"],
        "queries": result["queries"],
        "memory": memory,
        "storage_deletes": deletes["calls"],
    }


def render_purge(purge: dict) -> list[str]:
    return [
        "## 4. The purge",
        "",
        f"{purge['n']:,} update dossiers past their month, {purge['uploads']:,} of them with an"
        " upload not written back, on local disk. Ours is"
        " `dossiers.retention.purge_dossiers`.",
        "",
        "| seconds | dossiers/s | queries | peak memory | storage deletes |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {purge['seconds']:.1f} | {purge['n'] / purge['seconds']:,.0f} | {purge['queries']:,} |"
        f" {purge['memory']:.1f} MB | {purge['storage_deletes']:,} |",
        "",
        "On local disk a delete is one call per file. On S3 `profiles.storage.delete_keys`"
        " sends one `DeleteObjects` request per 1,000 keys"
        " (`tests/dossiers/test_purge_s3.py` counts them against moto's server).",
        "",
    ]
