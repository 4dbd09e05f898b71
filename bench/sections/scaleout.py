"""Section 7, scale-out: the fan-out of many runs on real Celery workers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import analyze, clear_dossiers, settings_chunk, truncate
from bench.sections.fanout import fan_out_organization

# A Redis database of the benchmark's own: its queue is emptied before each measure.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


SCALE_OUT_QUEUE = "bench-scale-out"


SCALE_OUT_SETUPS = [(1, "one worker process, `--concurrency 1`"), (2, "two such processes")]


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    """A worker of its own process group, consuming only the benchmark's queue."""
    from tests.workers import start_worker as start_test_worker

    quiet = ("--without-gossip", "--without-mingle", "--without-heartbeat")
    with log.open("w") as out:
        return start_test_worker(env, out, "-Q", SCALE_OUT_QUEUE, "-n", f"{name}@%h", *quiet)


def wait_ready(workers: list[tuple[subprocess.Popen, Path]], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(" ready." in log.read_text() for _worker, log in workers):
            return
        for worker, log in workers:
            if worker.poll() is not None:
                raise RuntimeError(f"a worker exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError("the workers did not start in time")


def group_cpu(groups: set[int]) -> float:
    """CPU seconds so far of the processes of these process groups (a worker and its pool)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The fields after the command's closing parenthesis: state, ppid, pgrp, …
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_worker(worker: subprocess.Popen) -> None:
    """Warm shutdown of the worker's process group (it and its pool), killed after a minute."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def bench_scale_out(n_runs: int, n: int) -> dict[str, Any]:
    """Ten runs' fan-out (`monitoring.tasks.open_run_dossiers`, one task a run) through
    Redis to one worker, then to two, on PostgreSQL; every dossier counted, none twice."""
    import redis
    from django.db import connection
    from django.db.models import Count

    from config.celery import app
    from dossiers.models import Dossier
    from monitoring.models import UpdateRun
    from monitoring.tasks import open_run_dossiers
    from outbox.models import Message

    truncate("profiles_profile", "monitoring_updategroup", "organizations_organization")
    run_ids = [fan_out_organization(f"bench-{i}", n)[1].pk for i in range(n_runs)]
    analyze()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BENCH_REDIS_URL,
        "EMAIL_HOST": "",
    }
    broker = redis.Redis.from_url(BENCH_REDIS_URL)
    logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    rows = []
    for count, label in SCALE_OUT_SETUPS:
        clear_dossiers()
        UpdateRun.objects.filter(pk__in=run_ids).update(finished_at=None, dossiers_opened=0)
        # The drain each page wakes goes to the default queue, which no worker here reads.
        broker.delete(SCALE_OUT_QUEUE, "celery")
        workers = [
            (
                start_worker(env, f"bench{count}-{i}", logs / f"{count}-{i}.log"),
                logs / f"{count}-{i}.log",
            )
            for i in range(count)
        ]
        groups = {worker.pid for worker, _log in workers}
        try:
            wait_ready(workers)
            cpu = group_cpu(groups)
            started = time.time()
            with app.connection_for_write(BENCH_REDIS_URL) as producer:
                for run_id in run_ids:
                    open_run_dossiers.apply_async(
                        args=[run_id], queue=SCALE_OUT_QUEUE, connection=producer
                    )
            deadline = time.monotonic() + 3600
            while UpdateRun.objects.filter(pk__in=run_ids, finished_at__isnull=True).exists():
                if time.monotonic() > deadline or any(w.poll() is not None for w, _ in workers):
                    tails = "\n".join(log.read_text()[-2000:] for _w, log in workers)
                    raise RuntimeError(f"the runs did not finish:\n{tails}")
                time.sleep(0.2)
            last = max(
                UpdateRun.objects.filter(pk__in=run_ids).values_list("finished_at", flat=True)
            )
            seconds = last.timestamp() - started
            cpu = group_cpu(groups) - cpu
        finally:
            for worker, _log in workers:
                stop_worker(worker)
        tasks = [log.read_text().count("succeeded in") for _w, log in workers]
        dossiers = Dossier.objects.count()
        duplicates = (
            Dossier.objects.values("update_group", "period", "profile")
            .annotate(copies=Count("id"))
            .filter(copies__gt=1)
            .count()
        )
        invitations = Message.objects.filter(kind="dossiers.invitation").count()
        opened = sum(
            UpdateRun.objects.filter(pk__in=run_ids).values_list("dossiers_opened", flat=True)
        )
        assert (dossiers, duplicates, invitations, opened) == (
            n * n_runs,
            0,
            n * n_runs,
            n * n_runs,
        )
        rows.append(
            {
                "workers": count,
                "label": label,
                "seconds": seconds,
                "rate": dossiers / seconds,
                "tasks": tasks,
                "dossiers": dossiers,
                "duplicates": duplicates,
                "invitations": invitations,
                "worker_cpu": cpu,
            }
        )
        print(f"scale-out {count} worker(s): {dossiers / seconds:,.0f} dossiers/s", flush=True)
    broker.delete(SCALE_OUT_QUEUE, "celery")
    shutil.rmtree(logs, ignore_errors=True)
    clear_dossiers()
    return {"runs": n_runs, "profiles": n, "chunk": settings_chunk(), "rows": rows}


def render_scale_out(scale: dict) -> list[str]:
    one = scale["rows"][0]
    lines = [
        "## 7. Scale-out: the fan-out of many runs on real workers",
        "",
        f"{scale['runs']} runs of {scale['profiles']:,} profiles each (one organisation and"
        f" one group of 4 fields a run), {scale['runs'] * scale['profiles']:,} dossiers in all."
        " Ours is the product's task, `monitoring.tasks.open_run_dossiers`, one a run (as"
        " `monitoring.dispatch.dispatch_due` queues them). The tasks go through Redis to real"
        " Celery worker processes (`celery -A config worker --concurrency 1`) on the same"
        " PostgreSQL: one process, then two. The workers read a queue of their own (`-Q`),"
        " so the outbox drain that each page wakes is queued but not run while the runs are"
        " timed. The time"
        " runs from the first task sent to the last run finished (its `finished_at`); then"
        " the dossiers are counted, and those of one (group, period, profile) more than once.",
        "",
        "| workers | seconds | dossiers/s | speed-up | tasks per worker | worker CPU (s) |"
        " dossiers | duplicates | invitations |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in scale["rows"]:
        lines.append(
            f"| {row['label']} | {row['seconds']:.1f} | {row['rate']:,.0f} |"
            f" {one['seconds'] / row['seconds']:.2f} | {' + '.join(map(str, row['tasks']))} |"
            f" {row['worker_cpu']:.1f} | {row['dossiers']:,} | {row['duplicates']} |"
            f" {row['invitations']:,} |"
        )
    lines += [
        "",
        "Worker CPU is that of the workers' own processes (each with its pool) over the timed"
        " span, read from `/proc`; the rest of a page's time is PostgreSQL's.",
        "",
    ]
    return lines
