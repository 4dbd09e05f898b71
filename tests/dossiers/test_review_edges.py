"""The edges of fresh evidence and review: stale confirmations, second rounds, the sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from dossiers.review import UNDO_GRACE
from monitoring.expiry import open_dossiers_for_expired_values
from organizations.models import AuditEntry, Membership
from outbox.mail import send_due
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.dossiers.conftest import (
    _confirm,
    _history,
    _name,
    _pdf,
    _reload,
    _value,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def test_still_correct_on_a_stale_value_does_not_undo_a_newer_staff_edit(client, kyc, member):
    """Dossier asks 'Baker'; staff then record 'Chef'; client says 'Baker is still correct'."""
    token = factories.token(kyc["dossier"])
    with scopes_disabled():
        apply_values(kyc["profile"], [NewValue(kyc["job"], "Chef")], source="staff", user=member)
    r = client.post(
        f"/d/{token}/",
        {
            _name(kyc["job"]): "Baker",
            _confirm(kyc["job"]): "on",
            _name(kyc["proof"]): _pdf(),
            "action": "submit",
        },
    )
    assert r.status_code == 302
    assert _value(kyc["job"]).value == "Chef", "a confirmation reverted a newer staff edit"


def test_rejected_value_resubmitted_untouched_is_not_a_fresh_answer(
    client, member_client, org, reviewed
):
    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    member_client.post(url + "reject/", {"item": reviewed["job"].uuid.hex, "reason": "Wrong title"})
    factories.approve_all(member_client, url)
    assert _reload(reviewed["dossier"]).status == "changes_requested"
    # the client just presses Submit again: the rejected "Chef" is prefilled and accepted
    r = client.post(
        f"/d/{reviewed['token']}/", {_name(reviewed["job"]): "Chef", "action": "submit"}
    )
    assert r.status_code == 200, (
        "the very answer staff rejected was accepted again as a fresh answer"
    )


def test_staff_are_told_about_a_resubmission(
    client, member_client, org, owner, reviewed, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices="each")
    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "cut"})
    factories.approve_all(member_client, url)
    send_due()  # the first round's notice went out
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(
            f"/d/{reviewed['token']}/",
            {_name(reviewed["proof"]): _pdf("b.pdf"), "action": "submit"},
        )
    assert r.status_code == 302
    assert _reload(reviewed["dossier"]).status == "to_review"
    assert ["owner@example.com"] in [m.to for m in mail.outbox], "no staff notice for round 2"


def test_the_sweep_does_not_thank_the_client_for_an_on_behalf_submission(
    member_client, owner, org, kyc, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices="each")
    portal = member_client.post(f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/link/")["Location"]
    send_due()  # the invitation
    mail.outbox.clear()
    # broker down: the drain is not woken after the commit (callbacks not executed)
    r = member_client.post(
        portal, {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"}
    )
    assert r.status_code == 302
    send_due()  # the periodic drain
    assert ["owner@example.com"] in [m.to for m in mail.outbox]
    assert "client@example.com" not in [to for m in mail.outbox for to in m.to]


def test_a_value_in_a_dossier_under_review_past_its_link_expiry_is_not_requested_again(client, kyc):
    factories.set_review(kyc["group"])
    with scopes_disabled():
        FieldValue.objects.filter(field=kyc["job"]).update(
            expires_on=timezone.localdate() - dt.timedelta(days=1)
        )
    token = factories.token(kyc["dossier"])
    client.post(
        f"/d/{token}/", {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"}
    )
    assert _reload(kyc["dossier"]).status == "to_review"
    # staff take their time: the link's own expiry passes while the dossier waits for review
    later = kyc["dossier"].expires_at + dt.timedelta(days=1)
    assert open_dossiers_for_expired_values(later) == 0


def test_update_dossier_of_empty_values_cannot_be_satisfied_by_one_tick(client, org):
    a = factories.field(org, "text", label="Second phone")
    b = factories.field(org, "text", label="Tax id")
    profile = factories.contact(org)
    group = factories.group(org, [a, b])
    dossier = factories.dossier(
        org, profile, [a, b], kind="update", update_group_id=group.pk, period=dt.date(2026, 1, 31)
    )
    r = client.post(f"/d/{factories.token(dossier)}/", {"confirm_all": "on", "action": "submit"})
    assert r.status_code == 200, "an update dossier of empty values was 'freshly evidenced' empty"
    # Each empty value is refused by name, and nothing is submitted or written.
    assert set(r.context["form"].errors) >= {_name(a), _name(b)}
    assert _reload(dossier).submitted_at is None
    assert _reload(dossier).status in Dossier.OPEN_STATUSES
    with scopes_disabled():
        assert not FieldValue.objects.filter(profile=profile).exists()
        assert not DossierItem.objects.filter(dossier=dossier, answered=True).exists()
        assert not DossierItem.objects.filter(dossier=dossier, confirmed=True).exists()
    assert _history(a) == [] and _history(b) == []


def test_a_removed_member_can_no_longer_use_their_on_behalf_link(member_client, member, org, kyc):
    portal = member_client.post(f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/link/")["Location"]
    with scopes_disabled():
        Membership.objects.filter(user=member).delete()
    r = member_client.post(
        portal, {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"}
    )
    assert r.status_code == 404, f"ex-member submitted on behalf: {r.status_code}"


def test_approving_nothing_writes_no_audit_entry(member_client, org, reviewed):
    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "cut"})
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    with scopes_disabled():
        n = AuditEntry.objects.filter(action="dossiers.dossier.approved").count()
    assert n == 1


def test_staff_draft_then_client_submit_is_attributed_to_staff(
    client, member_client, member, org, kyc
):
    portal = member_client.post(f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/link/")["Location"]
    member_client.post(
        portal, {_name(kyc["job"]): "Astronaut", _name(kyc["proof"]): _pdf(), "action": "draft"}
    )
    token = factories.token(kyc["dossier"])
    r = client.post(f"/d/{token}/", {_name(kyc["job"]): "Astronaut", "action": "submit"})
    assert r.status_code == 302
    row = _history(kyc["job"])[-1]
    assert row.user == member, "value typed by staff recorded as the client's own answer"


def test_new_value_gets_moved_expiry_when_group_extends(client, org):
    a = factories.field(org, "text", label="Licence")
    profile = factories.contact(org)
    group = factories.group(org, [a], extend_expiry=True)
    dossier = factories.dossier(
        org, profile, [a], kind="update", update_group_id=group.pk, period=dt.date(2026, 1, 31)
    )
    r = client.post(f"/d/{factories.token(dossier)}/", {_name(a): "L-1", "action": "submit"})
    assert r.status_code == 302
    assert _value(a).expires_on is not None, "first value of an extend_expiry group has no expiry"


def test_superseding_a_changes_requested_dossier(client, member_client, org, reviewed):
    """A new period while the client is asked for corrections: old one closed and purged at once?"""
    from dossiers.retention import purge_dossiers

    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "cut"})
    factories.approve_all(member_client, url)
    factories.dossier(
        org,
        reviewed["profile"],
        [reviewed["job"], reviewed["proof"]],
        kind="update",
        update_group_id=reviewed["group"].pk,
        period=dt.date(2026, 2, 28),
    )
    d = _reload(reviewed["dossier"])
    with scopes_disabled():
        Dossier.objects.filter(pk=d.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
        purged = purge_dossiers()
    assert purged == 0, "a dossier decided today (superseded) was purged at once"


def test_cross_org_review_endpoints_are_404(outsider_client, org, reviewed):
    base = f"/o/globex/dossiers/{reviewed['dossier'].uuid}/"
    codes = [
        outsider_client.post(base + "approve/").status_code,
        outsider_client.post(
            base + "reject/", {"item": reviewed["job"].uuid.hex, "reason": "x"}
        ).status_code,
        outsider_client.get(base + f"items/{reviewed['proof'].uuid.hex}/upload/").status_code,
        outsider_client.get(
            f"/o/acme/dossiers/{reviewed['dossier'].uuid}/items/{reviewed['proof'].uuid.hex}/upload/"
        ).status_code,
        outsider_client.get(f"/o/globex/dossiers/records/{reviewed['dossier'].uuid}/").status_code,
    ]
    assert all(c == 404 for c in codes[:3] + codes[4:]) and codes[3] in (403, 404)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"item": ""},
        {"item": "x" * 5000},
        {"item": "urn:uuid:" + "0" * 32},
        {"item": "\x00"},
        {"item": "zz", "reason": "r"},
        {"reason": "a" * 5000},
        {"item": ["a", "b"]},
    ],
)
def test_hostile_review_posts_never_500(member_client, org, reviewed, data):
    base = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    for ep in ("approve/", "reject/"):
        r = member_client.post(base + ep, data)
        assert r.status_code < 500, (ep, data, r.status_code)
    for key in ("x" * 300, "%00", "0" * 32, reviewed["job"].uuid.hex):
        assert member_client.get(base + f"items/{key}/upload/").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"action": "submit", "confirm_all": "x" * 1000},
        {"action": ["submit", "draft"]},
        {"action": "submit", "f_" + "0" * 32: "x"},
    ],
)
def test_hostile_portal_posts_never_500(client, kyc, data):
    token = factories.token(kyc["dossier"])
    r = client.post(f"/d/{token}/", data)
    assert r.status_code < 500
    for u in ("0" * 32, "not-a-uuid"):
        assert client.get(f"/d/{token}/files/{u}/").status_code == 404


def test_detail_page_query_count_is_flat(member_client, org, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    profile = factories.contact(org)
    fields = [factories.field(org, "text", label=f"F{i}") for i in range(12)]
    group = factories.group(org, fields, review_required=True)
    d1 = factories.dossier(
        org,
        profile,
        fields[:1],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    d2 = factories.dossier(
        org, profile, fields, kind="update", update_group_id=group.pk, period=dt.date(2026, 2, 28)
    )
    counts = []
    for d in (d1, d2):
        with scopes_disabled():
            Dossier.objects.filter(pk=d.pk).update(status="to_review")
            DossierItem.objects.filter(dossier=d).update(
                review="pending", answered=True, answer="x"
            )
        with CaptureQueriesContext(connection) as q:
            assert member_client.get(f"/o/{org.slug}/dossiers/{d.uuid}/").status_code == 200
        counts.append(len(q))
    with CaptureQueriesContext(connection) as q:
        member_client.get(f"/o/{org.slug}/dossiers/to-review/")
    assert counts[0] == counts[1]


def test_changes_requested_mail_is_swept_when_the_broker_was_down(
    client, member_client, org, reviewed
):
    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/"
    send_due()  # the invitation and the first submission's notices
    mail.outbox.clear()
    # on-commit callbacks are not run: the drain was never woken (broker down)
    member_client.post(url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "cut"})
    factories.approve_all(member_client, url)
    assert _reload(reviewed["dossier"]).status == "changes_requested"
    assert not mail.outbox
    send_due(now=timezone.now() + UNDO_GRACE)  # the periodic drain, once "Undo" is over
    assert any("client@example.com" in m.to and "cut" in m.body for m in mail.outbox), (
        "changes-requested mail lost"
    )


def test_a_changed_answer_equal_to_a_newer_staff_value_is_not_a_confirmation(client, kyc, member):
    token = factories.token(kyc["dossier"])
    with scopes_disabled():
        apply_values(kyc["profile"], [NewValue(kyc["job"], "Chef")], source="staff", user=member)
    r = client.post(
        f"/d/{token}/", {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"}
    )
    assert r.status_code == 302
    row = _history(kyc["job"])[-1]
    # Fresh evidence of the value on file, recorded as the client's answer, not their
    # "still correct".
    assert (row.kind, row.old_value, row.new_value, row.source) == (
        "answer",
        "Chef",
        "Chef",
        "dossier",
    )
    value = _value(kyc["job"])
    assert value.last_confirmed_at is None
    assert value.last_evidenced_at is not None and value.last_evidenced_at >= row.changed_at


def test_a_member_cannot_approve_what_they_answered_on_the_clients_behalf(
    member_client, owner_client, member, org, kyc
):
    factories.set_review(kyc["group"])
    portal = member_client.post(f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/link/")["Location"]
    member_client.post(
        portal, {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"}
    )
    url = f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/"
    factories.approve_all(member_client, url)
    assert _reload(kyc["dossier"]).status == "to_review"
    assert _value(kyc["job"]).value == "Baker"
    factories.approve_all(owner_client, url)
    assert _reload(kyc["dossier"]).status == "approved"
    assert _value(kyc["job"]).value == "Chef"


def test_a_former_recipients_link_reaches_no_file(client, kyc):
    token = factories.token(kyc["dossier"])
    with scopes_disabled():
        kyc["profile"].archived_at = timezone.now()
        kyc["profile"].save()
    assert client.get(f"/d/{token}/files/{kyc['proof'].uuid}/").status_code == 404


def test_downloading_an_upload_under_review_is_audited(member_client, org, reviewed):
    url = (
        f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/items/"
        f"{reviewed['proof'].uuid.hex}/upload/"
    )
    assert member_client.get(url + "?inline=1").status_code == 200
    assert member_client.get(url).status_code == 200
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="dossiers.upload.downloaded").count() == 1
