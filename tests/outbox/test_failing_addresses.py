"""A failing address, where staff meet it: the profile, the dossier, the run's follow-up,
the doors that would write to it (send the link, send it again, remind), and "try again"."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.utils import translation
from django_scopes import scope, scopes_disabled

from dossiers.messages import REMINDER, RESEND
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import UpdateRun
from organizations import actions
from organizations.actors import Actor
from organizations.models import AuditEntry, Membership
from outbox.mail import send_due
from outbox.models import FailingAddress, Message
from tests import factories

pytestmark = pytest.mark.django_db

TO = "jane@example.com"


@pytest.fixture(autouse=True)
def _clock(time_machine) -> None:
    time_machine.move_to(dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.UTC), tick=True)


def _fail(org, address: str = TO, reason: str = "bounced") -> FailingAddress:
    with scopes_disabled():
        return FailingAddress.objects.create(
            organization=org, address=address, reason=reason, detail="550 5.1.1 User unknown"
        )


def _failing(org) -> list[str]:
    with scopes_disabled():
        return list(
            FailingAddress.objects.filter(organization=org).values_list("address", flat=True)
        )


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# The action.


def test_try_again_forgets_a_bounce_and_is_audited(org, member):
    _fail(org)
    with scope(organization=org):
        found = actions.retry_address(org, actor=Actor.member(member), address="Jane@Example.com")
        entry = AuditEntry.objects.get(action="organizations.address.retried")
    assert found.reason == FailingAddress.Reason.BOUNCED
    assert _failing(org) == []
    assert entry.target == TO and entry.details["reason"] == "bounced"


def test_a_complaint_is_tried_again_only_when_confirmed(org, member):
    _fail(org, reason="complained")
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        actions.retry_address(org, actor=Actor.member(member), address=TO)
    assert "confirmed" in refused.value.message_dict
    assert _failing(org) == [TO]
    with scope(organization=org):
        actions.retry_address(org, actor=Actor.member(member), address=TO, confirmed=True)
    assert _failing(org) == []


def test_try_again_refuses_an_address_that_does_not_fail_or_another_organisations(
    org, other_org, member
):
    _fail(other_org)
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        actions.retry_address(org, actor=Actor.member(member), address=TO)
    assert "address" in refused.value.message_dict
    assert _failing(other_org) == [TO]


def test_try_again_is_a_member_s_decision(org):
    _fail(org)
    with scope(organization=org), pytest.raises(ValidationError):
        actions.retry_address(org, actor=Actor.system("test"), address=TO)
    assert _failing(org) == [TO]


# The page's door.


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_try_again_button_returns_to_its_page_and_says_what_happened(
    member_client, org, language
):
    person = factories.contact(org, email=TO)
    _fail(org, reason="complained")
    page = f"/o/{org.slug}/profiles/{person.uuid}/"
    member_client.cookies["django_language"] = language

    unconfirmed = member_client.post(f"/o/{org.slug}/email/retry/", {"address": TO, "next": page})
    assert unconfirmed.status_code == 302 and unconfirmed["Location"] == page
    with translation.override(language):
        assert _said(unconfirmed) == [
            str(
                translation.gettext(
                    "This client reported one of our e-mails as spam: confirm that they asked to "
                    "receive them again."
                )
            )
        ]
    assert _failing(org) == [TO]

    done = member_client.post(
        f"/o/{org.slug}/email/retry/", {"address": TO, "confirmed": "1", "next": page}
    )
    assert done["Location"] == page
    assert _failing(org) == []


def test_the_try_again_button_goes_nowhere_else(member_client, org):
    _fail(org)
    for elsewhere in ("https://evil.example/", "//evil.example/", "/o/globex/contacts/"):
        response = member_client.post(
            f"/o/{org.slug}/email/retry/", {"address": TO, "next": elsewhere}
        )
        assert response["Location"] == f"/o/{org.slug}/"


def test_a_bad_address_says_so_and_changes_nothing(member_client, org):
    _fail(org)
    response = member_client.post(f"/o/{org.slug}/email/retry/", {"address": "not an address"})
    assert response.status_code == 302
    assert _said(response) == ["Enter a valid e-mail address."]
    assert _failing(org) == [TO]


def test_another_organisation_s_member_gets_a_404(outsider_client, org):
    _fail(org)
    response = outsider_client.post(f"/o/{org.slug}/email/retry/", {"address": TO})
    assert response.status_code == 404
    assert _failing(org) == [TO]


# Where staff look.


def test_the_profile_shows_the_failing_address_with_its_button(member_client, org):
    person = factories.contact(org, email=TO)
    _fail(org)
    page = member_client.get(f"/o/{org.slug}/profiles/{person.uuid}/")
    html = page.content.decode()
    assert f"E-mails to {TO} bounce" in html
    assert 'action="/o/acme/email/retry/"' in html
    assert 'name="confirmed"' not in html  # a bounce needs no confirmation


def test_a_complaint_on_the_dossier_asks_for_the_confirmation(member_client, org):
    person = factories.contact(org, email=TO)
    dossier = factories.dossier(org, person, [factories.field(org, "text")])
    _fail(org, reason="complained")
    html = member_client.get(f"/o/{org.slug}/dossiers/{dossier.uuid}/").content.decode()
    assert f"{TO} reported one of our e-mails as spam" in html
    assert 'name="confirmed"' in html


def test_a_healthy_profile_shows_nothing(member_client, org):
    person = factories.contact(org, email=TO)
    _fail(org, address="someone@else.example")
    html = member_client.get(f"/o/{org.slug}/profiles/{person.uuid}/").content.decode()
    assert "failing-address" not in html


def _run_with(org, *people):
    field = factories.field(org, "text", label="Address")
    for first, email in people:
        factories.contact(org, first_name=first, last_name="Doe", email=email)
    group = factories.group(org, [field])
    run_id = dispatch_group_now(group.pk, fan_out=False)
    open_run(run_id)
    with scopes_disabled():
        return group, UpdateRun.objects.get(pk=run_id)


def test_the_follow_up_counts_and_marks_who_cannot_be_reached(member_client, org):
    _fail(org)
    group, run = _run_with(org, ("Jane", TO), ("John", "john@example.com"))
    assert send_due() == 1  # John's; Jane's is refused before sending
    page = member_client.get(
        f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/"
    )
    assert page.context["unreachable"] == 1
    assert page.context["undeliverable"] == 1
    assert page.content.decode().count("Not reached: address failing") == 1


# The doors that would write to it.


def test_sending_the_link_again_to_a_failing_address_is_refused_and_queues_nothing(
    member_client, org
):
    person = factories.contact(org, email=TO)
    dossier = factories.dossier(org, person, [factories.field(org, "text")])
    _fail(org)
    response = member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/resend/")
    assert response.status_code == 302
    [said] = _said(response)
    assert said.startswith(f"Nothing was sent: e-mails to {TO} bounce")
    with scopes_disabled():
        assert not Message.objects.filter(kind=RESEND).exists()


def test_a_company_s_link_goes_to_the_representative_who_can_be_reached(member_client, org):
    company = factories.company(org, name="Initech")
    factories.contact(org, email=TO, company=company, is_representative=True)
    factories.contact(org, email="bob@example.com", company=company, is_representative=True)
    dossier = factories.dossier(org, company, [factories.field(org, "text", applies_to="company")])
    _fail(org)
    response = member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/resend/")
    assert _said(response)[-1].startswith(f"Not sent to {TO}")
    with scopes_disabled():
        assert list(Message.objects.filter(kind=RESEND).values_list("address", flat=True)) == [
            "bob@example.com"
        ]


def test_opening_a_dossier_for_a_failing_address_says_it_will_not_reach_them(member_client, org):
    person = factories.contact(org, email=TO)
    field = factories.field(org, "text")
    _fail(org)
    response = member_client.post(
        f"/o/{org.slug}/profiles/{person.uuid}/dossiers/new/",
        {"title": "Check", "fields": [field.pk], "message": "", "days": 14},
    )
    assert response.status_code == 302
    assert any(f"will not reach {TO}" in said for said in _said(response))
    assert send_due() == 0
    with scopes_disabled():
        assert Message.objects.get().status == Message.Status.UNDELIVERABLE


def test_reminding_a_run_leaves_out_and_counts_who_cannot_be_reached(member_client, org):
    _fail(org)
    group, run = _run_with(org, ("Jane", TO), ("John", "john@example.com"))
    send_due()
    response = member_client.post(
        f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/remind/"
    )
    assert response.status_code == 302
    assert any(said.startswith("1 of them cannot be reached") for said in _said(response))
    with scopes_disabled():
        reminded = list(Message.objects.filter(kind=REMINDER).values_list("address", flat=True))
    assert reminded == ["john@example.com"]


# The organisation's contact address: the Reply-To of its e-mails.


def test_the_migration_fills_the_contact_address_with_the_first_admin_s(org, other_org):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    first = users.create_user(username="first", email="first@acme.example")
    second = users.create_user(username="second", email="second@acme.example")
    staff = users.create_user(username="staff", email="staff@acme.example")
    with scopes_disabled():
        Membership.objects.create(organization=org, user=staff, role="staff")
        Membership.objects.create(organization=org, user=first, role="admin")
        Membership.objects.create(organization=org, user=second, role="admin")
    migration = importlib.import_module("organizations.migrations.0012_email_contact_address")

    with scopes_disabled():  # the migration's historical models have plain managers
        migration.first_admins_address(apps, None)

    org.refresh_from_db()
    other_org.refresh_from_db()
    assert org.contact_email == "first@acme.example"
    assert other_org.contact_email == ""  # no administrator: nobody to name


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_settings_page_keeps_a_bad_contact_address_on_its_field(owner_client, org, language):
    import lxml.html

    owner_client.cookies["django_language"] = language
    page = owner_client.get(f"/o/{org.slug}/settings/")
    [form] = [f for f in lxml.html.fromstring(page.content).forms if not f.get("action")]
    data: dict[str, list[str]] = {}
    for name, value in form.form_values():
        data.setdefault(name, []).append(value)

    data["contact_email"] = ["office@@acme"]
    refused = owner_client.post(f"/o/{org.slug}/settings/", data)
    assert refused.status_code == 200
    assert "contact_email" in refused.context["form"].errors
    assert 'value="office@@acme"' in refused.content.decode()
    org.refresh_from_db()
    assert org.contact_email == ""

    data["contact_email"] = ["  office@acme.example "]
    saved = owner_client.post(f"/o/{org.slug}/settings/", data)
    assert saved.status_code == 302
    org.refresh_from_db()
    assert org.contact_email == "office@acme.example"
    shown = owner_client.get(f"/o/{org.slug}/settings/").content.decode()
    assert "office@acme.example" in shown
    assert "<code>localhost</code>" in shown  # the sending domain


def test_a_failing_address_is_exported_and_erased_with_its_person(owner_client, org):
    import io
    import json
    import zipfile

    person = factories.contact(org, first_name="Eve", email="Eve@Example.com")
    _fail(org, address="eve@example.com", reason="complained")
    _fail(org, address="other@example.com")
    exported = owner_client.get(f"/o/{org.slug}/profiles/{person.uuid}/privacy/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exported.streaming_content)))
    records = json.loads(archive.read("index.json"))["records"]["outbox"]
    assert [row["address"] for row in records["failing_addresses"]] == ["eve@example.com"]

    owner_client.post(f"/o/{org.slug}/profiles/{person.uuid}/privacy/erase/", {"confirm": "on"})

    assert _failing(org) == ["other@example.com"]
