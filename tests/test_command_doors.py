"""Management commands and tasks as doors: none of them removes or blanks a value on file.

Of the commands and tasks, only `seed_demo` writes values (through `apply_values`, for the
profiles it creates); the purge deletes dossiers and their unclaimed uploads; the others
(dispatch and fan-out, expiry, reminders, digests, the overview check, the sweeps) open
dossiers or send messages. Each test keeps a picture of every value, every history row and
every document file of the organisation, runs the door, and compares.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers import tasks as dossier_tasks
from dossiers.models import Dossier, DossierItem
from monitoring import tasks as monitoring_tasks
from monitoring.dispatch import dispatch_due
from monitoring.models import GroupDue
from organizations.models import Organization
from profiles import tasks as profile_tasks
from profiles.models import Document, FieldValue, FieldValueHistory, Profile
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db

START = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)


def _picture(org: Organization) -> tuple[dict[Any, Any], list[Any], set[str]]:
    """Every value on file, every history row (without its dossier link, which the purge
    nulls by design: `dossier_uuid` keeps it) and every document file that exists."""
    with scopes_disabled():
        values = {
            (v.profile_id, v.field_id): (v.value, v.document_id)
            for v in FieldValue.objects.filter(organization=org)
        }
        history = list(
            FieldValueHistory.objects.filter(organization=org)
            .order_by("id")
            .values_list(
                "id",
                "profile_id",
                "field_id",
                "old_value",
                "new_value",
                "old_document_id",
                "new_document_id",
                "source",
                "dossier_uuid",
            )
        )
        files = {d.file.name for d in Document.objects.filter(organization=org)}
    assert all(default_storage.exists(name) for name in files)
    return values, history, files


def _answer(client: Client, dossier: Dossier, action: str, **answers: Any) -> None:
    """Posts the portal's form as a browser would, every item answered with something new."""
    token = factories.token(dossier)
    with scopes_disabled():
        items = list(DossierItem.objects.filter(dossier=dossier).select_related("field"))
    data: dict[str, Any] = {"action": action}
    for item in items:
        name = f"f_{item.field.uuid.hex}"
        if item.field.is_document:
            data[name] = SimpleUploadedFile("proof.pdf", factories.PDF, "application/pdf")
        else:
            data[name] = answers[item.field.type]
    response = client.post(f"/d/{token}/", data)
    assert response.status_code == 302, response.content[:2000]


FATES = ["untouched", "draft", "submitted"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fates=st.lists(st.sampled_from(FATES), min_size=1, max_size=3),
    age_days=st.integers(0, 75),
    staff_first=st.booleans(),
)
def test_the_purge_never_removes_a_value_or_a_document_on_file(
    org, django_capture_on_commit_callbacks, fates, age_days, staff_first
):
    proof = factories.field(org, "document")
    employer = factories.field(org, "text")
    client = Client()
    with time_machine.travel(START, tick=False):
        for n, fate in enumerate(fates):
            profile = factories.contact(org, email=f"c{n}-{fates}-{age_days}@example.com")
            if staff_first:
                with scopes_disabled():
                    apply_values(profile, [NewValue(employer, "Old employer")], source="staff")
            dossier = factories.dossier(org, profile, [proof, employer], kind="update")
            if fate != "untouched":
                _answer(client, dossier, "submit" if fate == "submitted" else "draft", text="New")
    before = _picture(org)
    with (
        time_machine.travel(START + dt.timedelta(days=age_days), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("purge_dossiers")
        dossier_tasks.purge_dossiers()
        # The sweep of files recorded for deletion, which the purge feeds.
        call_command("delete_pending_files")
        profile_tasks.delete_pending_files()
    assert _picture(org) == before
    if age_days > 31:  # the purge did run: nothing of the update dossiers is left
        with scopes_disabled():
            assert not Dossier.objects.filter(organization=org, kind="update").exists()


@pytest.fixture
def _laptop(settings):
    # The demo is for a laptop (DEBUG on); the tests run with DEBUG off.
    settings.DEBUG = True


@pytest.mark.usefixtures("_laptop")
def test_seed_demo_run_again_leaves_staff_edits_and_removals_alone():
    with time_machine.travel(START, tick=False):
        call_command("seed_demo")
    org = Organization.objects.get(slug="demo")
    with scopes_disabled():
        contact = Profile.objects.get(organization=org, email="claire.martin@example.com")
        company = contact.company
        job, born = (
            contact.values.select_related("field").get(field__label=label).field
            for label in ("Job title", "Date of birth")
        )
        sector = company.values.select_related("field").get(field__label="Sector").field
        apply_values(contact, [NewValue(job, "Chief baker")], source="staff")
        apply_values(contact, [NewValue(born, None, remove=True)], source="staff")
        apply_values(company, [NewValue(sector, "Bakery")], source="staff")
    before = _picture(org)
    with time_machine.travel(START + dt.timedelta(days=3), tick=False):
        call_command("seed_demo")
    assert _picture(org) == before
    values, _history, _files = before
    assert values[(contact.pk, job.pk)][0] == "Chief baker"
    assert (contact.pk, born.pk) not in values
    assert values[(company.pk, sector.pk)][0] == "Bakery"


def test_dispatch_fan_out_expiry_and_messages_never_write_a_value(
    client, org, django_capture_on_commit_callbacks
):
    monitored = factories.field(org, "text", label="Employer")
    expiring = factories.field(org, "date", label="ID card valid until")
    proof = factories.field(org, "document", label="Proof of address")
    with time_machine.travel(START, tick=False):
        group = factories.group(org, [monitored], start_date=dt.date(2027, 1, 1))
        profiles = [factories.contact(org, email=f"p{n}@example.com") for n in range(3)]
        with scopes_disabled():
            for profile in profiles:
                apply_values(
                    profile,
                    [NewValue(monitored, "Old employer"), NewValue(expiring, "2027-02-01")],
                    source="staff",
                )
            FieldValue.objects.filter(field=expiring).update(expires_on=dt.date(2027, 2, 1))
            GroupDue.objects.filter(group=group).update(next_run_at=timezone.now())
        # One profile also holds a document written back from an earlier dossier.
        earlier = factories.dossier(org, profiles[0], [proof], kind="update")
        _answer(client, earlier, "submit")
    before = _picture(org)
    with (
        time_machine.travel(START + dt.timedelta(hours=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_ids = dispatch_due(fan_out=False)
        for run_id in run_ids:
            monitoring_tasks.open_run_dossiers(run_id)
        monitoring_tasks.dispatch_due_groups()
        monitoring_tasks.sweep_unfinished_runs()
        monitoring_tasks.open_expired_values()
        monitoring_tasks.check_overview_cells()
        dossier_tasks.send_reminders()
        dossier_tasks.send_digests()
        call_command("dispatch_due")
    assert _picture(org) == before
    with scopes_disabled():  # the doors did their work: dossiers were opened
        assert Dossier.objects.filter(update_group=group).count() == 3
        assert Dossier.objects.filter(kind="update", items__field=expiring).exists()
