from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import settings as hypothesis_settings

from organizations.models import Membership, Organization
from tests.idp.fixture import identity_provider  # noqa: F401 - a real OpenID Connect provider

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# A property holds or not whatever the machine's load: no per-example deadline, which a busy
# two-core CI machine (or a faketime leg) exceeds for reasons that are not the code's.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")


def need_service(available: bool, what: str) -> None:
    """Skips a test on a laptop without the service; fails it where CI promised the service."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """A "replica" alias mirroring the primary's test database, for the tests of the replica
    router (tests/test_replica_router.py); nothing routes to it unless a test says so."""
    from django.conf import settings

    primary = settings.DATABASES["default"]
    settings.DATABASES.setdefault(
        "replica", {**primary, "TEST": {**primary.get("TEST", {}), "MIRROR": "default"}}
    )


@pytest.fixture(autouse=True)
def _invitations_not_held(settings: object) -> None:
    """Invitations go out at once, as the drain after a fan-out expects; the tests of the
    requests of the day set the wait they show."""
    settings.DOSSIERS_DAILY_SETTLE_SECONDS = 0  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _eager_tasks() -> Iterator[None]:
    """Tasks run in the test's process; the real-worker tests switch this off."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    """A request served in French leaves French active in the thread (the locale middleware
    activates, nothing deactivates): each test starts from the default language, whatever
    ran before it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_media(settings, tmp_path) -> None:
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "media")},
            },
        }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def unscoped() -> Iterator[None]:
    with scopes_disabled():
        yield


def make_member(org: Organization, username: str, role: str) -> object:
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="pw"
    )
    with scopes_disabled():
        Membership.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(name="Acme", slug="acme", time_zone="Europe/Paris")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(name="Globex", slug="globex", time_zone="America/New_York")


@pytest.fixture
def owner(org):
    return make_member(org, "owner", Membership.Role.ADMIN)


@pytest.fixture
def member(org):
    return make_member(org, "member", Membership.Role.STAFF)


@pytest.fixture
def outsider(other_org):
    return make_member(other_org, "outsider", Membership.Role.ADMIN)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def member_client(member) -> Client:
    return _client_for(member)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto() -> tuple[object, str]:
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    port = _free_port()
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    pytest.fail("moto_server did not start")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint: moto's server on loopback, for the whole test session."""
    process, url = _start_moto()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _s3_settings(settings, endpoint: str, **extra: str) -> str:
    """Switches default storage to S3 as config/settings.py builds it from the environment."""
    import runpy
    import uuid as uuid_module
    from unittest import mock

    import boto3

    bucket = f"test-{uuid_module.uuid4().hex[:12]}"
    env = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **extra,
    }
    with mock.patch.dict(os.environ, env):
        built = runpy.run_path(str(settings.BASE_DIR / "config" / "settings.py"))
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    settings.STORAGES = built["STORAGES"]
    return bucket


@pytest.fixture
def s3_storage(settings, s3_endpoint) -> Iterator[str]:
    yield _s3_settings(settings, s3_endpoint)


class StoppableS3:
    """moto's server of this test alone. `stop()` freezes the process (SIGSTOP): connections
    are still accepted by the kernel and never answered, the worst kind of outage, and the
    contents survive for `start()` (SIGCONT)."""

    def __init__(self, process, url: str, bucket: str) -> None:
        self.process, self.url, self.bucket = process, url, bucket

    def stop(self) -> None:
        import signal

        self.process.send_signal(signal.SIGSTOP)

    def start(self) -> None:
        import signal

        self.process.send_signal(signal.SIGCONT)

    def keys(self) -> set[str]:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def stoppable_s3(settings) -> Iterator[StoppableS3]:
    """S3 storage on a server of its own, with short timeouts so that an outage is quick."""
    process, url = _start_moto()
    bucket = _s3_settings(
        settings,
        url,
        AWS_S3_CONNECT_TIMEOUT="1",
        AWS_S3_READ_TIMEOUT="1",
        AWS_S3_MAX_ATTEMPTS="1",
    )
    s3 = StoppableS3(process, url, bucket)
    try:
        yield s3
    finally:
        s3.start()
        process.terminate()
        process.wait(timeout=10)
