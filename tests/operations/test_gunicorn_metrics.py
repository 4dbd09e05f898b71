"""Under gunicorn's several workers, /metrics sums what every worker recorded (prometheus
client's multiprocess mode, its folder set by config/gunicorn.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.conftest import _free_port

TOKEN = "gunicorn-scrape"


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    tmp_path.joinpath("gunicorn.log").touch()
    env = {
        **os.environ,
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path / "var"),
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_BROKER_URL": "memory://",
        "LOG_FORMAT": "json",
    }
    env.pop("DATABASE_URL", None)
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "config.wsgi:application",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(base + "/healthz", timeout=2)
                break
            except requests.RequestException:
                if process.poll() is not None:
                    pytest.fail((tmp_path / "gunicorn.log").read_text()[-3000:])
                import time

                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield base, tmp_path / "metrics"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_every_workers_requests_are_counted(server):
    base, folder = server
    for _ in range(30):
        assert requests.get(base + "/healthz", timeout=10).status_code == 200
    text = requests.get(
        base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ).text
    [count] = [
        line
        for line in text.splitlines()
        if line.startswith("backoffice_request_duration_seconds_count{")
        and 'view="healthz"' in line
    ]
    # The start-up probe and these thirty, whichever worker answered each.
    assert float(count.rsplit(" ", 1)[1]) >= 31
    assert list(folder.glob("histogram_*.db"))


def test_its_access_log_is_json_with_the_request_id(server, tmp_path):
    import json
    import time

    base, _folder = server
    requests.get(base + "/healthz", headers={"X-Request-ID": "edge-1"}, timeout=10)
    log = tmp_path / "gunicorn.log"
    deadline = time.monotonic() + 30
    found: list[dict] = []
    while not found and time.monotonic() < deadline:
        found = [
            json.loads(line)
            for line in log.read_text().splitlines()
            if line.startswith("{") and '"edge-1"' in line
        ]
        time.sleep(0.1)
    assert found, log.read_text()[-2000:]
    [access] = found
    assert access["logger"] == "gunicorn.access"
    assert access["message"] == "GET /healthz HTTP/1.1"
    assert access["status"] == "200"
    assert access["time"].endswith("+00:00")
