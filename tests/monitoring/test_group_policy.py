"""A group's policy (review, reminder ladder) reaches its dossiers as data: given when they
open, handed over again when staff change the group; no dossier reads its group."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from dossiers.tasks import send_reminders
from monitoring.dispatch import dispatch_group_now, open_run
from outbox.mail import send_due
from outbox.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(MOMENT, tick=False):
        yield


@pytest.fixture
def sent(org):
    """A group's run sent to two clients: one still to answer, one whose answer was approved."""
    job = factories.field(org, "text", label="Job title")
    ann = factories.contact(org, first_name="Ann", email="ann@example.com", language="en")
    bob = factories.contact(org, first_name="Bob", email="bob@example.com", language="en")
    group = factories.group(org, [job], start_date=dt.date(2027, 1, 31))
    with scopes_disabled():
        open_run(dispatch_group_now(group.pk, fan_out=False))
        Dossier.objects.filter(profile=bob).update(status=Dossier.Status.APPROVED)
    send_due()
    return {"group": group, "job": job, "ann": ann, "bob": bob}


def _edit(owner_client, org, group, **changes):
    """The group's form posted back as a browser sends it, with `changes`."""
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/"
    form = owner_client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data["fields"] = [str(pk) for pk in data.get("fields", [])]
    data["start_date"] = group.start_date.isoformat()
    data.update(changes)
    response = owner_client.post(url, {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.context["form"].errors


def _dossier(profile) -> Dossier:
    with scopes_disabled():
        return Dossier.objects.get(profile=profile)


def test_a_run_gives_its_dossiers_the_groups_policy(org):
    job = factories.field(org, "text")
    ann = factories.contact(org)
    group = factories.group(org, [job], review_required=True, remind_after=[1], remind_before=[])
    with scopes_disabled():
        open_run(dispatch_group_now(group.pk, fan_out=False))
    dossier = _dossier(ann)
    assert (dossier.review_required, dossier.remind_after, dossier.remind_before) == (
        True,
        [1],
        [],
    )


def test_review_turned_on_in_the_form_holds_the_answers_of_a_request_already_sent(
    org, owner_client, client, sent
):
    _edit(owner_client, org, sent["group"], review_required="on")
    token = factories.token(_dossier(sent["ann"]))
    response = client.post(
        f"/d/{token}/", {f"f_{sent['job'].uuid.hex}": "Chef", "action": "submit"}
    )
    assert response.status_code == 302
    assert _dossier(sent["ann"]).status == Dossier.Status.TO_REVIEW
    # A decided request keeps the policy it was decided under.
    assert _dossier(sent["bob"]).review_required is False


def test_review_turned_off_writes_the_next_answer_at_once(org, owner_client, client, sent):
    _edit(owner_client, org, sent["group"], review_required="on")
    _edit(owner_client, org, sent["group"], review_required=None)
    token = factories.token(_dossier(sent["ann"]))
    client.post(f"/d/{token}/", {f"f_{sent['job'].uuid.hex}": "Chef", "action": "submit"})
    assert _dossier(sent["ann"]).status == Dossier.Status.SUBMITTED


def test_a_new_ladder_in_the_form_reaches_the_reminders_of_a_request_already_sent(
    org, owner_client, sent
):
    with scopes_disabled():
        Message.objects.filter(kind="dossiers.invitation").update(
            done_at=timezone.now() - dt.timedelta(days=2)
        )
    assert send_reminders() == 0  # the first rung is 3 days after sending
    _edit(owner_client, org, sent["group"], remind_after="1", remind_before="")
    assert _dossier(sent["ann"]).remind_after == [1]
    assert send_reminders() == 1
    with scopes_disabled():
        reminder = Message.objects.get(kind="dossiers.reminder")
    assert reminder.key.endswith(":after-1")


def test_review_turned_on_through_the_api_reaches_a_request_already_sent(org, sent):
    import json

    from tests.api.conftest import client_for, issue

    api = client_for(issue(org)[1])
    response = api.patch(
        f"/api/v1/groups/{sent['group'].uuid}/",
        json.dumps({"review_required": True}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert _dossier(sent["ann"]).review_required is True
    assert _dossier(sent["bob"]).review_required is False
