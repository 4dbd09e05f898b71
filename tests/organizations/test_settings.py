from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_a_missing_secret_key():
    result = _run("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_production_refuses_the_development_secret_key():
    from config.settings import INSECURE_SECRET_KEY

    result = _run("check", DEBUG="0", SECRET_KEY=INSECURE_SECRET_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_a_production_configuration_passes_check_deploy(tmp_path):
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="backoffice.example.com",
        SITE_URL="https://backoffice.example.com",
        EMAIL_HOST="smtp.example.com",
        AWS_STORAGE_BUCKET_NAME="documents",
        CACHE_URL="redis://127.0.0.1:6379/1",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_flags_an_insecure_site_url(tmp_path):
    result = _run(
        "check",
        "--deploy",
        DEBUG="0",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="backoffice.example.com",
        SITE_URL="http://backoffice.example.com",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "backoffice.E001" in result.stderr


def test_check_deploy_requires_a_shared_cache(tmp_path):
    # A per-process cache gives each gunicorn worker its own rate-limit counters.
    result = _run(
        "check",
        "--deploy",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="backoffice.example.com",
        SITE_URL="https://backoffice.example.com",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "backoffice.E002" in result.stderr


def test_start_up_refuses_a_trusted_proxy_that_is_not_an_address(tmp_path):
    result = _run("check", TRUSTED_PROXIES="10.0.0.0/8,proxy.example.com", VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr


def test_sessions_are_cached_only_in_a_shared_cache(tmp_path):
    """Cached in Redis, written through to the database; never in a per-process cache, where
    a log-out in one worker would leave the session alive in the others."""
    show = "from django.conf import settings; print(settings.SESSION_ENGINE)"
    shared = _run(
        "shell", "-v0", "-c", show, CACHE_URL="redis://127.0.0.1:6379/1", VAR_DIR=str(tmp_path)
    )
    local = _run("shell", "-v0", "-c", show, CACHE_URL="", VAR_DIR=str(tmp_path))
    assert shared.stdout.strip() == "django.contrib.sessions.backends.cached_db", shared.stderr
    assert local.stdout.strip() == "django.contrib.sessions.backends.db", local.stderr
