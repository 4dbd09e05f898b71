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


# The secrets, and how the stack refuses to start without them.

ROOT = Path(__file__).resolve().parents[1]
SECRETS = (
    "SECRET_KEY",
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MINIO_APP_PASSWORD",
    "MAILPIT_PASSWORD",
)


def _compose_binary() -> Path:
    # The PyPI wrapper's docker-compose script drops the exit code: call the binary itself.
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def _config(tmp_path: Path, env_file: Path, **env: str):
    import os
    import subprocess

    base = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [
            str(_compose_binary()),
            "--env-file",
            str(env_file),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--project-directory",
            str(tmp_path),
            "config",
            "--format",
            "json",
        ],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_secret_comes_from_the_environment_and_is_required():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SECRETS:
        assert f"${{{name}:?" in text, name
    for literal in ("backoffice-secret", "POSTGRES_PASSWORD: backoffice", "backoffice:backoffice@"):
        assert literal not in text


def test_the_example_env_file_names_every_secret_and_holds_none():
    lines = (ROOT / ".env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    for name in SECRETS:
        assert values[name] == "", name


def test_compose_refuses_to_start_without_the_secrets(tmp_path):
    result = _config(tmp_path, ROOT / ".env.example")
    assert result.returncode != 0
    assert "required variable" in result.stderr and "see .env.example" in result.stderr


def test_with_the_secrets_the_app_uses_its_own_minio_user_and_web_stays_local(tmp_path):
    import json

    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}=value-of-{name.lower()}\n" for name in SECRETS))
    result = _config(tmp_path, env_file)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    app = services["web"]["environment"]
    minio = services["minio"]["environment"]
    assert app["AWS_ACCESS_KEY_ID"] != minio["MINIO_ROOT_USER"]
    assert app["AWS_SECRET_ACCESS_KEY"] == "value-of-minio_app_password"
    assert "value-of-minio_root_password" not in json.dumps(
        {name: services[name] for name in ("web", "worker", "beat")}
    )
    assert app["DATABASE_URL"] == (
        "postgres://backoffice:value-of-postgres_password@postgres:5432/backoffice"
    )
    assert services["mailpit"]["environment"]["MP_UI_AUTH"] == (
        "backoffice:value-of-mailpit_password"
    )
    [web_port] = services["web"]["ports"]
    assert web_port["host_ip"] == "127.0.0.1"
    policy = json.loads(config["configs"]["documents-policy"]["content"])
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {"arn:aws:s3:::documents", "arn:aws:s3:::documents/*"}
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
    assert not any(
        action in ("s3:*", "admin:*")
        for statement in policy["Statement"]
        for action in statement["Action"]
    )


def test_web_is_healthy_when_ready():
    """The web container's health is /readyz: the database, the broker and storage answer."""
    check = COMPOSE["services"]["web"]["healthcheck"]
    command = " ".join(check["test"])
    assert "http://127.0.0.1:8000/readyz" in command
    # Longer than the checks' 2 s, so that a dependency's timeout is reported, not cut.
    assert int(check["timeout"].rstrip("s")) > 2
    assert COMPOSE["x-app"]["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
