"""Faults with real components: a killed worker, a failing S3 endpoint, a broker that is down."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from config.celery import app
from dossiers.models import Dossier, DossierItem
from monitoring.models import UpdateRun
from organizations.models import Membership
from outbox.mail import send_due
from outbox.models import Message
from profiles.models import Document, FieldValue, Kind, Profile
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import _free_port
from tests.workers import broker_for_workers, on_broker, start_worker, worker_env


def _portal_setup(org):
    text = factories.field(org, "text", label="Address")
    doc = factories.field(org, "document", label="Proof")
    profile = factories.contact(org, language="en")
    with scopes_disabled():
        apply_values(profile, [NewValue(text, "old address")], source="staff")
    dossier = factories.dossier(org, profile, [text, doc])
    with scopes_disabled():
        names = {
            i.field.label: f"f_{i.field.uuid.hex}"
            for i in DossierItem.objects.filter(dossier=dossier)
        }
    return dossier, names, factories.token(dossier)


@pytest.mark.django_db
def test_a_failing_s3_endpoint_leaves_the_profile_and_the_dossier_as_they_were(
    org, s3_storage, settings
):
    dossier, names, token = _portal_setup(org)
    dead = f"http://127.0.0.1:{_free_port()}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "endpoint_url": dead},
        },
    }
    response = Client().post(
        f"/d/{token}/",
        {
            names["Address"]: "new address",
            names["Proof"]: SimpleUploadedFile("p.pdf", factories.PDF, "application/pdf"),
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert "could not be stored just now" in response.text
    assert 'value="new address"' in response.text  # what the client typed is still there
    with scopes_disabled():
        assert FieldValue.objects.get(field__label="Address").value == "old address"
        assert not Document.objects.exists()
        dossier.refresh_from_db()
        assert dossier.status == "opened"


@pytest.mark.django_db
def test_with_the_broker_down_a_submission_is_kept_and_its_emails_go_out_later(
    org, owner, django_capture_on_commit_callbacks, caplog
):
    dossier, names, token = _portal_setup(org)
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices="each")
    with on_broker(f"redis://127.0.0.1:{_free_port()}/0"):
        with django_capture_on_commit_callbacks() as callbacks:
            response = Client().post(
                f"/d/{token}/", {names["Address"]: "new address", "action": "submit"}
            )
        for callback in callbacks:  # after the commit, as in production
            callback()
    assert "the periodic sweep outbox.tasks.send_messages will send" in caplog.text
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == "submitted"
    with scopes_disabled():
        assert FieldValue.objects.get(field__label="Address").value == "new address"
        assert set(
            Message.objects.filter(
                dossier_link__dossier=dossier,
                kind__in=["dossiers.confirmation", "dossiers.staff_notice"],
            ).values_list("status", flat=True)
        ) == {"queued"}
    assert not mail.outbox
    # The broker is back: the periodic drain of the outbox sends what waited.
    send_due()
    assert sorted(m.to[0] for m in mail.outbox) == ["jane@example.com", "owner@example.com"]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_half_way_through_a_fan_out(org, tmp_path):
    broker = broker_for_workers()
    field = factories.field(org, "text")
    with scopes_disabled():
        Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"{i}@x.org")
            for i in range(3000)
        )
    group = factories.group(org, [field], start_date=dt.date(2024, 1, 31))
    with scopes_disabled():
        run = UpdateRun.objects.create(
            organization=org,
            group=group,
            period=dt.date(2024, 1, 31),
            index=0,
            due_at=timezone.now(),
        )
    env = worker_env(broker, CELERY_VISIBILITY_TIMEOUT="3", MONITORING_CHUNK_SIZE="25")
    log = (tmp_path / "worker.log").open("w")
    worker = start_worker(env, log, "--without-heartbeat", "--without-mingle", "--without-gossip")
    app.conf.task_always_eager = False
    previous = app.conf.broker_url
    app.conf.broker_url = broker
    try:
        from monitoring.tasks import open_run_dossiers

        open_run_dossiers.delay(run.pk)
    finally:
        app.conf.broker_url = previous
        app.conf.task_always_eager = True

    def count() -> int:
        with scopes_disabled():
            return Dossier.objects.filter(update_group=group).count()

    deadline = time.monotonic() + 60
    while count() < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, without warning
    worker.wait(timeout=30)
    killed_at = count()
    assert 0 < killed_at < 3000, "the kill did not land half-way"
    # The unacknowledged task becomes visible again once its visibility timeout has passed;
    # the restarted worker takes it back when it starts polling.
    time.sleep(4)
    worker = start_worker(env, log, "--without-heartbeat", "--without-mingle", "--without-gossip")
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with scopes_disabled():
                run.refresh_from_db()
            if run.finished_at is not None:
                break
            time.sleep(0.5)
        with scopes_disabled():
            per_profile = set(
                Dossier.objects.filter(update_group=group, period=run.period)
                .values_list("profile_id", flat=True)
                .distinct()
            )
        assert count() == 3000 == len(per_profile)
        # The redelivered task finished the run and counted every dossier once.
        assert run.finished_at is not None and run.dossiers_opened == 3000
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()
