"""Every registered audit action, performed for real, then read in the log and its CSV.

`_perform_every_action` goes through the doors people use (pages, the portal, the API, the
management commands): no entry is written by hand, so an entry's details are the ones its
action really records. The test fails when an action is registered and neither performed
here nor listed in NOT_PERFORMED with its reason, so the list stays complete.

To cover a new action: perform it in `_perform_every_action` (the door a person would use);
if no test can perform it, add it to NOT_PERFORMED with why and the details it records.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from typing import Any

import lxml.html
import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_scopes import scope, scopes_disabled

from organizations.audit import known_actions
from organizations.models import AuditEntry, Invitation, Membership, record_audit
from outbox.mail import send_due
from outbox.models import FailingAddress
from tests import factories
from tests.organizations.authenticator import add_passkey

pytestmark = pytest.mark.django_db

# Actions no test can perform, each with why and the details it records; they are recorded
# by hand instead, so that the log is still seen to render them. An action named here and
# not registered (yet) is ignored: the list may run ahead of a merge.
NOT_PERFORMED: dict[str, tuple[str, dict[str, Any]]] = {}

PASSWORD = "a-long-pass-phrase-42"


def _form(page: Any) -> list[tuple[str, str]]:
    """What a browser sends, untouched, for the page's form that posts to the page itself."""
    tree = lxml.html.fromstring(page.content)
    [form] = [f for f in tree.forms if (f.method or "").upper() == "POST" and not f.get("action")]
    return list(form.form_values())


def _as_post(values: list[tuple[str, str]], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in values:
        data.setdefault(name, []).append(value)
    data.update(changes)
    return data


def _link(message: Any) -> str:
    return re.search(r"http://testserver(\S+)", message.body).group(1)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def _csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _perform_every_action(org: Any, owner: Any, member: Any, capture: Any, settings: Any) -> None:
    settings.SITE_URL = "http://testserver"
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    admin = Client()
    admin.force_login(owner)
    staff = Client()
    staff.force_login(member)
    o = f"/o/{org.slug}"

    # The organisation, its members and accounts.
    page = admin.get(f"{o}/settings/")
    saved = admin.post(f"{o}/settings/", _as_post(_form(page), name="Acme Ltd"))
    assert saved.status_code == 302, saved.context["form"].errors
    admin.post(f"{o}/settings/members/", {"email": "new@example.com", "role": "staff"})
    admin.post(f"{o}/settings/members/", {"email": "gone@example.com", "role": "staff"})
    send_due()
    with scopes_disabled():
        gone = Invitation.objects.get(email="gone@example.com")
    admin.post(f"{o}/settings/invitations/{gone.uuid}/cancel/")
    [invited] = [m for m in mail.outbox if m.to == ["new@example.com"]]
    newcomer = Client()
    joined = newcomer.post(
        _link(invited),
        {"first_name": "New", "last_name": "Person", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert joined.status_code == 302
    with scopes_disabled():
        joined_as = Membership.objects.get(user__email="new@example.com")
    admin.post(f"{o}/settings/members/{joined_as.uuid}/role/", {"role": "admin"})
    admin.post(f"{o}/settings/members/{joined_as.uuid}/remove/")
    assert Client().post("/login/", {"username": "member", "password": "pw"}).status_code == 302
    Client().post("/login/", {"username": "member", "password": "wrong"})
    mail.outbox.clear()
    with capture(execute=True):
        Client().post("/password/reset/", {"email": member.email})
    send_due()
    [reset] = mail.outbox
    resetting = Client()
    form_page = resetting.get(_link(reset), follow=True)
    resetting.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": PASSWORD, "new_password2": PASSWORD},
    )
    # The new password ended the member's sessions: they log in again.
    member.refresh_from_db()
    staff.force_login(member)
    setup = staff.get("/account/two-factor/")
    assert setup.status_code == 200, (setup.status_code, setup.get("Location"))
    device = TOTPDevice.objects.get(user=member, confirmed=False)
    staff.post("/account/two-factor/", {"action": "confirm", "code": _code(device)})
    # Passkeys: added on the security page, one removed there; the reset removes the other.
    add_passkey(staff, "Laptop")
    add_passkey(staff, "Old phone")
    old_phone = WebAuthnCredential.objects.get(user=member, name="Old phone")
    staff.post(f"/account/passkeys/{old_phone.pk}/remove/")
    call_command("reset_two_factor", "member", stdout=io.StringIO())

    # Fields and profiles.
    admin.post(
        f"{o}/settings/fields/contacts/new/",
        {"label": "Passport", "type": "text", "max_size_mb": 10},
    )
    with scopes_disabled():
        passport = org.datafield_set.get(label="Passport")
    page = admin.get(f"{o}/settings/field/{passport.uuid}/")
    saved = admin.post(
        f"{o}/settings/field/{passport.uuid}/",
        _as_post(_form(page), label="Passport number"),
    )
    assert saved.status_code == 302, saved.context["form"].errors
    factories.field(org, "text", label="Nickname")
    admin.post(f"{o}/settings/field/{passport.uuid}/move/", {"direction": "down"})
    admin.post(f"{o}/settings/field/{passport.uuid}/archive/")
    admin.post(f"{o}/settings/field/{passport.uuid}/archive/")
    ada_form = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    staff.post(f"{o}/contacts/new/", {**ada_form, "language": "en"})
    with scopes_disabled():
        ada = org.profile_set.get(last_name="Lovelace")
    staff.post(f"{o}/profiles/{ada.uuid}/edit/", {**ada_form, "language": "fr"})
    staff.post(f"{o}/profiles/{ada.uuid}/archive/")
    staff.post(f"{o}/profiles/{ada.uuid}/archive/")
    document_field = factories.field(org, "document", label="Proof of address")
    staff.post(
        f"{o}/profiles/{ada.uuid}/values/",
        {f"f_{document_field.uuid.hex}": SimpleUploadedFile("bill.pdf", factories.PDF)},
    )
    with scopes_disabled():
        document = ada.documents.get()
    # A mistaken change, and the way back from it.
    employer = factories.field(org, "text", label="Employer")
    for value in ("Old employer", "Wrong employer"):
        staff.post(f"{o}/profiles/{ada.uuid}/values/", {f"f_{employer.uuid.hex}": value})
    with scopes_disabled():
        mistake = ada.history.filter(field=employer).latest("id")
    restored = staff.post(f"{o}/profiles/{ada.uuid}/history/{mistake.pk}/restore/")
    assert restored.status_code == 302
    staff.get(f"{o}/documents/{document.uuid}/")
    exported = admin.get(f"{o}/profiles/{ada.uuid}/privacy/export/")
    b"".join(exported.streaming_content)
    eve = factories.contact(org, first_name="Eve", last_name="Erased", email="eve@example.com")
    # An entry about her, which her erasure blanks (and records that it did).
    staff.post(f"{o}/profiles/{eve.uuid}/archive/")
    admin.post(f"{o}/profiles/{eve.uuid}/privacy/erase/", {"confirm": "on"})

    # An address the e-mail service reported as spam-reporting, tried again by staff.
    with scopes_disabled():
        FailingAddress.objects.create(
            organization=org, address="ada@example.com", reason="complained", detail="abuse"
        )
    retried = staff.post(
        f"{o}/email/retry/",
        {"address": "ada@example.com", "confirmed": "1", "next": f"{o}/profiles/{ada.uuid}/"},
    )
    assert retried.status_code == 302

    # Dossiers: opened by staff, answered on the client's behalf, reviewed.
    with capture(execute=True):
        admin.post(
            f"{o}/profiles/{ada.uuid}/dossiers/new/",
            {"title": "Check", "fields": [document_field.pk], "message": "", "days": 14},
        )
    with scopes_disabled():
        check = org.dossier_set.get(title="Check")
    with capture(execute=True):
        admin.post(f"{o}/dossiers/{check.uuid}/resend/")
    portal = admin.post(f"{o}/dossiers/{check.uuid}/link/")["Location"]
    pdf = SimpleUploadedFile("new-bill.pdf", factories.PDF, "application/pdf")
    admin.post(portal, {f"f_{document_field.uuid.hex}": pdf, "action": "save"})
    again = SimpleUploadedFile("newer-bill.pdf", factories.PDF, "application/pdf")
    submitted = admin.post(portal, {f"f_{document_field.uuid.hex}": again, "action": "submit"})
    assert submitted.status_code == 302
    job = factories.field(org, "text", label="Job")
    address = factories.field(org, "text", label="Address")
    grace = factories.contact(org, first_name="Grace", last_name="Hopper", email="g@example.com")
    group = factories.group(
        org, [job, address, document_field], title="Reviewed", review_required=True
    )
    with scopes_disabled():
        from profiles.services import NewValue, apply_values

        # Something on file for the approval to replace, and its undo to put back.
        apply_values(grace, [NewValue(job, "Cook")], source="staff", user=None)
    review = factories.dossier(
        org,
        grace,
        [job, address, document_field],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    answered = Client().post(
        f"/d/{factories.token(review)}/",
        {
            f"f_{job.uuid.hex}": "Chef",
            f"f_{address.uuid.hex}": "1 Main St",
            f"f_{document_field.uuid.hex}": SimpleUploadedFile(
                "bill.pdf", factories.PDF, "application/pdf"
            ),
            "action": "submit",
        },
    )
    assert answered.status_code == 302
    staff.get(f"{o}/dossiers/{review.uuid}/items/{document_field.uuid.hex}/upload/")
    staff.get(f"{o}/dossiers/{review.uuid}/items/{document_field.uuid.hex}/upload/?inline=1")
    staff.post(f"{o}/dossiers/{review.uuid}/approve/", {"item": job.uuid.hex})
    # Each decision taken back once, then made again.
    staff.post(f"{o}/dossiers/{review.uuid}/undo/", {"item": job.uuid.hex})
    staff.post(f"{o}/dossiers/{review.uuid}/approve/", {"item": job.uuid.hex})
    for path in ("reject/", "undo/", "reject/"):
        staff.post(
            f"{o}/dossiers/{review.uuid}/{path}",
            {"item": address.uuid.hex, "reason": "Give the full address"},
        )
    # Grace's e-mail changes: her link goes, revoked by the system.
    saved = staff.post(
        f"{o}/profiles/{grace.uuid}/edit/",
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@new.example",
            "language": "en",
        },
    )
    assert saved.status_code == 302, saved.context["form"].errors

    # Data monitoring.
    group_data = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2024-01-31",
        "frequency": "1-years",
        "interval_unit": "years",
        "fields": [passport.pk],
    }
    admin.post(f"{o}/settings/fields/monitoring/new/", group_data)
    with scopes_disabled():
        kyc = org.updategroup_set.get(title="KYC")
    admin.post(f"{o}/settings/fields/monitoring/{kyc.uuid}/edit/", {**group_data, "title": "KYC 2"})
    admin.post(f"{o}/settings/fields/monitoring/{kyc.uuid}/toggle/")
    admin.post(f"{o}/settings/fields/monitoring/{kyc.uuid}/toggle/")
    with capture(execute=True):
        admin.post(f"{o}/settings/fields/monitoring/{kyc.uuid}/send/")
    with scopes_disabled():
        run = kyc.runs.get()
    runs = f"{o}/monitoring/groups/{kyc.uuid}/runs/{run.period.isoformat()}"
    b"".join(staff.get(f"{runs}/outstanding.csv").streaming_content)
    with capture(execute=True):
        staff.post(f"{runs}/remind/")
    b"".join(staff.get(f"{o}/monitoring/overview.csv", {"status": "expired"}).streaming_content)
    with scopes_disabled():
        from profiles.services import NewValue, apply_values

        apply_values(grace, [NewValue(job, "Admiral")], source="staff")
    popup = f"{o}/profiles/{grace.uuid}/fields/{job.uuid}/monitoring/"
    staff.post(popup, {"expires_on": "2030-01-01", "action": "save"})
    staff.post(popup, {"action": "clear"})
    # A tiered group, then a tier raised: the profile's next update moves, and says so.
    risk = factories.field(org, "choice", label="Risk", choices=["High", "Low"])
    address = factories.field(org, "text", label="Address")
    tiered = admin.post(
        f"{o}/settings/fields/monitoring/new/",
        {
            **group_data,
            "title": "Risk review",
            "fields": [address.pk],
            "cadence": "tiered",
            "tier_field": risk.pk,
            "tiers": "High: 3\nLow: 60",
        },
    )
    assert tiered.status_code == 302, tiered.context["form"].errors
    with scopes_disabled():
        apply_values(grace, [NewValue(risk, "High")], source="staff")
    admin.post(f"{o}/settings/fields/monitoring/{kyc.uuid}/delete/")

    # The API: a key, used, then revoked; a webhook endpoint.
    created = admin.post(f"{o}/settings/api/", {"name": "CRM sync", "access": "write"})
    key = created.context["new_key"]
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    api.patch(
        f"/api/v1/profiles/{ada.uuid}/",
        json.dumps({"phone": "+44 20 7946 0000"}),
        content_type="application/json",
    )
    with scopes_disabled():
        api_key = org.api_keys.get(name="CRM sync")
    admin.post(f"{o}/settings/api/{api_key.uuid}/revoke/")
    admin.post(
        f"{o}/settings/webhooks/",
        {"url": "https://hooks.example.com/in", "events": ["dossier.sent", "value.changed"]},
    )
    with scopes_disabled():
        endpoint = org.webhook_endpoints.get()
    admin.post(f"{o}/settings/webhooks/{endpoint.uuid}/test/")
    with scopes_disabled():
        delivery = endpoint.deliveries.get()
    admin.post(f"{o}/settings/webhooks/deliveries/{delivery.uuid}/again/")
    # Its body, past the retention, goes with the daily sweep.
    with scopes_disabled():
        type(delivery).objects.filter(pk=delivery.pk).update(
            status="sent", done_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        )
    from api.tasks import purge_deliveries

    assert purge_deliveries() == 1
    admin.post(f"{o}/settings/webhooks/{endpoint.uuid}/delete/")

    # The nightly purge, by its command: an update dossier past its month goes.
    pam = factories.contact(org, first_name="Pam", last_name="Past", email="pam@example.com")
    old = factories.dossier(org, pam, [job], kind="update", period=dt.date(2025, 12, 31))
    with scopes_disabled():
        type(old).objects.filter(pk=old.pk).update(
            created_at=old.created_at - dt.timedelta(days=40)
        )
    call_command("purge_dossiers", stdout=io.StringIO())

    # An import from a file: uploaded, mapped as guessed, tried, then run.
    staff.post(
        f"{o}/imports/",
        {
            "kind": "contact",
            "file": SimpleUploadedFile("clients.csv", b"Last name,E-mail\r\nNew,n@example.com\r\n"),
        },
    )
    with scopes_disabled():
        upload = org.importjob_set.get()
    staff.post(f"{o}/imports/{upload.uuid}/mapping/", {"c0": "last_name", "c1": "email"})
    with capture(execute=True):
        staff.post(f"{o}/imports/{upload.uuid}/run/")
    b"".join(staff.get(f"{o}/contacts/export.csv").streaming_content)

    # The log's own export.
    b"".join(admin.get(f"{o}/settings/audit/export.csv").streaming_content)


def _perform_sso_actions(org: Any, owner: Any, member: Any, idp: Any) -> None:
    """Single sign-on, through the real test provider (tests/idp/)."""
    o = f"/o/{org.slug}"
    idp.client("coverage", "coverage-secret", [f"http://testserver/sso/{org.slug}/callback/"])
    idp.tamper()
    admin = Client()
    admin.force_login(owner)
    saved = admin.post(
        f"{o}/settings/security/",
        {
            "discovery_url": idp.discovery_url,
            "client_id": "coverage",
            "client_secret": "coverage-secret",
            "enforces_second_factor": "on",
        },
    )
    assert saved.status_code == 302, saved.context["form"].errors
    idp.user(member.email)
    idp.user("nobody-here@example.com")
    assert idp.through(Client(), member.email, org.slug).status_code == 302
    assert idp.through(Client(), "nobody-here@example.com", org.slug).status_code == 403
    admin.post(f"{o}/settings/security/remove/")


def _rows(page_html: str) -> dict[str, list[list[str]]]:
    """The cells of each row (when, who, action, object, details), by the row's action."""
    tree = lxml.html.fromstring(page_html)
    rows: dict[str, list[list[str]]] = {}
    for row in tree.xpath("//tbody/tr[@data-action]"):
        cells = [cell.text_content().strip() for cell in row.xpath("./td")]
        rows.setdefault(row.get("data-action"), []).append(cells)
    return rows


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # The performance asks for a new password each time: the per-address limit, kept in the
    # cache, would refuse it after a few tests.
    cache.clear()


@pytest.fixture
def every_action_performed(
    org, owner, member, django_capture_on_commit_callbacks, settings, identity_provider
) -> set[str]:
    owner.first_name, owner.last_name = "Olive", "Owner"
    owner.save()
    _perform_every_action(org, owner, member, django_capture_on_commit_callbacks, settings)
    _perform_sso_actions(org, owner, member, identity_provider)
    with scopes_disabled():
        performed = set(AuditEntry.objects.values_list("action", flat=True))
    registered = {str(a) for a in known_actions()}
    with scope(organization=org):
        for name in registered - performed:
            if name in NOT_PERFORMED:
                record_audit(org, owner, name, "Recorded by hand", **NOT_PERFORMED[name][1])
    return performed


def test_every_registered_action_is_performed_or_said_why_not(every_action_performed):
    registered = {str(a) for a in known_actions()}
    missing = registered - every_action_performed - set(NOT_PERFORMED)
    assert not missing, f"Perform these in _perform_every_action, or list them: {missing}"
    stale = set(NOT_PERFORMED) & every_action_performed
    assert not stale, f"Performed now: remove them from NOT_PERFORMED: {stale}"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_log_and_its_csv_render_every_action_in_words(
    every_action_performed, org, owner, language
):
    client = Client()
    client.force_login(owner)
    client.cookies["django_language"] = language
    with scopes_disabled():
        entries = list(AuditEntry.objects.all())
    url = f"/o/{org.slug}/settings/audit/"
    page = client.get(url)
    assert page.status_code == 200
    shown: dict[str, list[list[str]]] = {}
    while True:
        for action, rows in _rows(page.text).items():
            shown.setdefault(action, []).extend(rows)
        older = page.context["page"].older_link
        if older is None:
            break
        page = client.get(url + older)
        assert page.status_code == 200
    assert set(shown) == {e.action for e in entries}
    labels = {str(a): a.label for a in known_actions()}
    with translation.override(language):
        for action, rows in shown.items():
            for _when, who, label, _target, details in rows:
                assert label == str(labels[action]), (action, label)
                assert who and "None" not in who, (action, who)
                assert "None" not in details and "{" not in details and "[" not in details, (
                    action,
                    details,
                )
        for entry in entries:
            for key in entry.details:
                # The old page's "key: value; …", with keys as stored ("email_before:").
                stored = re.compile(rf"(?:^|;\s*){re.escape(key)}:")
                for row in shown[entry.action]:
                    assert not stored.search(row[4]), (entry.action, key, row[4])
    # Every kind of actor is named in words.
    actors = {row[1] for rows in shown.values() for row in rows}
    system = "System" if language == "en" else "Système"
    assert {"Olive Owner (owner)", system} <= actors
    key = "API key “CRM sync”" if language == "en" else "Clé d\u2019API « CRM sync »"
    assert key in actors

    response = client.get(f"/o/{org.slug}/settings/audit/export.csv")
    assert response.status_code == 200
    rows = _csv(response)
    by_action: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_action.setdefault(list(row.values())[2], []).append(row)
    assert set(shown) <= set(by_action)
    for action, action_rows in by_action.items():
        for row in action_rows:
            values = list(row.values())
            readable = values[7]
            assert "None" not in readable and "{" not in readable, (action, readable)
            assert values[6], (action, "nobody named")


def test_every_entry_naming_a_person_references_them(every_action_performed, org):
    """An entry that spells a profile's name (as its object or in its details) has that
    profile as a subject, or as the client who acted: the person's export and erasure find
    it by reference, whatever the text says. A new action that forgets `about=` fails here."""
    from organizations.integrity import verify
    from profiles.models import Profile

    with scope(organization=org):
        people = {
            str(profile.uuid): profile.display_name
            for profile in Profile.objects.all()
            if len(profile.display_name) > 3
        }
        unlinked = []
        for entry in AuditEntry.objects.prefetch_related("subjects"):
            text = entry.target + json.dumps(entry.details, ensure_ascii=False)
            linked = {s.ref for s in entry.subjects.all() if s.kind == "profile"}
            if entry.actor == "client":
                linked.add(entry.actor_ref)
            for ref, name in people.items():
                if name in text and ref not in linked:
                    unlinked.append((entry.action, entry.target, name))
        assert verify(org).intact
    assert not unlinked


@pytest.fixture
def fresh_throttles():
    """The password reset's throttle counts per hour in the cache, which outlives a test: a
    fourth run of `_perform_every_action` within the hour would be refused its e-mail."""
    from django.core.cache import cache

    cache.clear()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_every_key_of_every_action_is_named_for_people(
    fresh_throttles, every_action_performed, language, monkeypatch
):
    """No detail reads under its key as stored ("Due at" from "due_at"): every key an action
    records is named in KEY_LABELS or read by the action's own `describe`."""
    from organizations import audit

    guessed: set[tuple[str, str]] = set()
    named, current = audit.key_label, [""]

    def key_label(key: object) -> str:
        if str(key) not in audit.KEY_LABELS:
            guessed.add((current[0], str(key)))
        return named(key)

    monkeypatch.setattr(audit, "key_label", key_label)
    with scopes_disabled():
        entries = list(AuditEntry.objects.all())
    with translation.override(language):
        for entry in entries:
            current[0] = entry.action
            audit.describe(entry.action, entry.details)
    assert not guessed, sorted(guessed)


def test_the_parts_of_details_are_separated_as_the_language_writes_it():
    from organizations.audit import joined

    with translation.override("en"):
        assert joined(["Role: Staff", "", "From the address 127.0.0.1"]) == (
            "Role: Staff; From the address 127.0.0.1"
        )
    with translation.override("fr"):
        assert joined(["a", "b"]) == "a ; b"
