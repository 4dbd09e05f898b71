"""The compose stack as shipped: what it publishes and what it shares."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text())


def test_mailpit_and_the_minio_console_are_published_on_loopback_only():
    for service in ("mailpit", "minio"):
        for port in COMPOSE["services"][service].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (service, port)


def test_the_web_workers_share_a_cache():
    environment = COMPOSE["x-app"]["environment"]
    assert environment["CACHE_URL"].startswith("redis://redis:")
