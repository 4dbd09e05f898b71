"""A small run of the benchmark keeps it from rotting; its figures are not asserted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.services
def test_a_small_benchmark_runs(tmp_path):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    need_service(shutil.which("wrk") is not None, "wrk")
    import psycopg

    db = connection.settings_dict
    # A database of its own: the benchmark drops and rebuilds its schema.
    name = "backoffice_bench_smoke"
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--small", "--no-write"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "pages:" in result.stdout and "fan-out 300" in result.stdout
