"""The verbs of dossiers (`dossiers/actions.py`): each checks its rule, writes, records its
audit entry with the right actor; and each of its doors (back office, portal, API, command,
task) calls it, once."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import re
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

import dossiers.management.commands.purge_dossiers
import dossiers.portal
import dossiers.retention
import dossiers.review
import dossiers.revocation
import dossiers.submission
import dossiers.tasks
import dossiers.views
from api.views import DossierViewSet
from dossiers import actions, review
from dossiers.models import AccessToken, Dossier, DossierItem, ItemReview
from dossiers.submission import NotAnswered
from organizations.actors import Actor
from organizations.audit import describe
from organizations.models import AuditEntry
from tests import factories
from tests.api.conftest import client_for, issue

from .conftest import _name, _pdf, _reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(org) -> Client:
    return client_for(issue(org)[1])


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _spy(verb: str) -> Any:
    return mock.patch(f"dossiers.actions.{verb}", wraps=getattr(actions, verb))


def _items(dossier: Dossier) -> dict[str, DossierItem]:
    with scopes_disabled():
        return {i.field.label: i for i in DossierItem.objects.filter(dossier=dossier)}


# open_dossier


def test_open_dossier_opens_one_and_audits_it_as_the_member(org, member):
    job = factories.field(org, "text", label="Job")
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scope(organization=org):
        dossier = actions.open_dossier(
            ada, fields=[job], title="Check", days=14, actor=Actor.member(member)
        )
    assert dossier.kind == Dossier.Kind.CLASSIC and dossier.created_by == member
    assert list(_items(dossier)) == ["Job"]
    [entry] = _entries("dossiers.dossier.created")
    assert (entry.actor, entry.user, entry.organization) == ("member", member, org)
    assert entry.details["profile"] == "Ada Lovelace"


def test_open_dossier_by_an_api_key_names_the_key(org):
    key, _secret = issue(org, name="CRM sync")
    job = factories.field(org, "text")
    with scope(organization=org):
        dossier = actions.open_dossier(
            factories.contact(org), fields=[job], title="X", days=3, actor=Actor.of_api_key(key)
        )
    assert dossier.created_by is None
    [entry] = _entries("dossiers.dossier.created")
    assert (entry.actor, entry.actor_name) == ("api_key", "CRM sync")


@pytest.mark.parametrize("case", ["archived", "other kind", "archived field", "other org", "none"])
def test_open_dossier_refuses_what_its_rule_forbids_on_the_field_concerned(
    org, other_org, member, case
):
    profile = factories.contact(org)
    fields = [factories.field(org, "text")]
    if case == "archived":
        profile.archived_at = timezone.now()
        profile.save()
    elif case == "other kind":
        fields = [factories.field(org, "text", applies_to="company")]
    elif case == "archived field":
        fields[0].archived_at = timezone.now()
        fields[0].save()
    elif case == "other org":
        fields = [factories.field(other_org, "text")]
    else:
        fields = []
    with scope(organization=org), pytest.raises(ValidationError) as raised:
        actions.open_dossier(profile, fields=fields, title="X", days=3, actor=Actor.member(member))
    assert list(raised.value.message_dict) == ["profile" if case == "archived" else "fields"]
    with scopes_disabled():
        assert not Dossier.objects.exists()
    assert not _entries("dossiers.dossier.created")


def test_open_dossier_doors_back_office_and_api_call_it(org, member_client, api):
    job = factories.field(org, "text")
    ada = factories.contact(org)
    with _spy("open_dossier") as spy:
        page = member_client.post(
            f"/o/{org.slug}/profiles/{ada.uuid}/dossiers/new/",
            {"title": "Check", "fields": [job.pk], "message": "", "days": 14},
        )
    assert page.status_code == 302 and spy.call_count == 1
    with _spy("open_dossier") as spy:
        response = api.post(
            "/api/v1/dossiers/",
            {"profile": str(ada.uuid), "fields": [str(job.uuid)], "title": "x"},
            content_type="application/json",
        )
    assert response.status_code == 201 and spy.call_count == 1


def test_the_api_door_translates_the_rule_into_a_400_naming_the_field(org, api):
    ada = factories.contact(org)
    company_field = factories.field(org, "text", applies_to="company")
    response = api.post(
        "/api/v1/dossiers/",
        {"profile": str(ada.uuid), "fields": [str(company_field.uuid)], "title": "x"},
        content_type="application/json",
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["attr"] == "fields" and company_field.label in error["detail"]


# save_draft and submit


def test_a_client_draft_and_submission_write_no_audit_entry(kyc):
    recipient = kyc["profile"]
    actor = Actor.of_client(recipient)
    with scope(organization=kyc["dossier"].organization):
        job = _items(kyc["dossier"])["Job title"]
        assert actions.save_draft(kyc["dossier"], answers={job.pk: "Chef"}, uploads={}, actor=actor)
    with scopes_disabled():
        assert not AuditEntry.objects.exists()
        assert DossierItem.objects.get(pk=job.pk).answered_by == recipient


def test_on_behalf_the_draft_and_the_submission_are_audited_as_the_member(org, member):
    job = factories.field(org, "text", label="Job title")
    recipient = factories.contact(org, first_name="Ada", last_name="Lovelace")
    dossier = factories.dossier(org, recipient, [job])
    actor = Actor.of_client(recipient, on_behalf_by=member)
    answers = {_items(dossier)["Job title"].pk: "Chef"}
    with scope(organization=org):
        assert actions.save_draft(dossier, answers=answers, uploads={}, actor=actor)
        # The same answer again changes nothing, and says nothing.
        assert not actions.save_draft(dossier, answers=answers, uploads={}, actor=actor)
        assert actions.submit(dossier, actor=actor) == Dossier.Status.SUBMITTED
    drafted = _entries("dossiers.dossier.drafted_on_behalf")
    [submitted] = _entries("dossiers.dossier.submitted_on_behalf")
    assert len(drafted) == 1
    for entry in [*drafted, submitted]:
        assert (entry.actor, entry.user) == ("member", member)
        assert entry.details["recipient"] == recipient.display_name
        assert entry.details["dossier"] == str(dossier.uuid)


def test_a_refused_submission_leaves_no_audit_entry(kyc, member):
    dossier = kyc["dossier"]
    with scope(organization=dossier.organization), pytest.raises(NotAnswered):
        actions.submit(dossier, actor=Actor.of_client(kyc["profile"], on_behalf_by=member))
    assert not _entries("dossiers.dossier.submitted_on_behalf")
    assert _reload(dossier).status == Dossier.Status.OPEN


def test_only_a_client_saves_or_submits(kyc, member):
    with scope(organization=kyc["dossier"].organization), pytest.raises(ValueError):
        actions.submit(kyc["dossier"], actor=Actor.member(member))


def test_the_portal_doors_call_save_draft_and_submit(kyc, client):
    token = factories.token(kyc["dossier"])
    with _spy("save_draft") as draft, _spy("submit") as submit:
        response = client.post(f"/d/{token}/", {_name(kyc["job"]): "Chef", "action": "save"})
    assert response.status_code == 302
    assert (draft.call_count, submit.call_count) == (1, 0)
    with _spy("save_draft") as draft, _spy("submit") as submit:
        response = client.post(
            f"/d/{token}/",
            {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
        )
    assert response.status_code == 302
    # A submit's page is saved by the submit action itself, in the same transaction.
    assert (draft.call_count, submit.call_count) == (0, 1)
    assert submit.call_args.kwargs["actor"].client == kyc["profile"]
    assert "Chef" in submit.call_args.kwargs["draft"].answers.values()


def test_the_portal_keeps_chosen_files_through_save_draft(kyc, client):
    """The page that comes back with an error keeps its valid files as a draft: a door too."""
    token = factories.token(kyc["dossier"])
    with _spy("save_draft") as draft:
        response = client.post(
            f"/d/{token}/",
            # The job title left as it was, without "Still correct": an error elsewhere.
            {_name(kyc["job"]): "Baker", _name(kyc["proof"]): _pdf(), "action": "submit"},
        )
    assert response.status_code == 200
    assert draft.call_count == 1 and draft.call_args.kwargs["answers"] == {}


# approve and send_back


@pytest.fixture
def under_review(reviewed):
    return reviewed


def test_approve_records_the_labels_of_the_items_it_approved(under_review, member):
    dossier = under_review["dossier"]
    with scope(organization=dossier.organization):
        decision = actions.approve(dossier, item_ids=None, actor=Actor.member(member))
    assert decision.status == Dossier.Status.APPROVED
    assert sorted(i.field.label for i in decision.approved) == ["Job title", "Proof of address"]
    [entry] = _entries("dossiers.dossier.approved")
    assert (entry.actor, entry.user) == ("member", member)
    assert sorted(entry.details["items"]) == ["Job title", "Proof of address"]
    with translation.override("en"):
        assert re.fullmatch(r"2 items approved: .+, .+", describe(entry.action, entry.details))


def test_approve_of_one_item_reads_as_before(under_review, member):
    dossier = under_review["dossier"]
    job = _items(dossier)["Job title"]
    with scope(organization=dossier.organization):
        decision = actions.approve(dossier, item_ids=[job.pk], actor=Actor.member(member))
    assert decision.status == Dossier.Status.TO_REVIEW
    [entry] = _entries("dossiers.dossier.approved")
    with translation.override("en"):
        assert describe(entry.action, entry.details) == "Approved: Job title"


def test_approve_by_an_api_key_is_the_key_s(under_review, org):
    key, _secret = issue(org)
    dossier = under_review["dossier"]
    with scope(organization=org):
        actions.approve(dossier, item_ids=None, actor=Actor.of_api_key(key))
    [entry] = _entries("dossiers.dossier.approved")
    assert (entry.actor, entry.actor_name, entry.user) == ("api_key", "CRM sync", None)


def test_a_refused_decision_writes_nothing(kyc, member):
    """Not under review: neither approval nor sending back records anything."""
    dossier = kyc["dossier"]
    job = _items(dossier)["Job title"]
    with scope(organization=dossier.organization):
        with pytest.raises(review.NotReviewable):
            actions.approve(dossier, item_ids=None, actor=Actor.member(member))
        with pytest.raises(review.NotReviewable):
            actions.send_back(dossier, item=job, reason="Why", actor=Actor.member(member))
    with scopes_disabled():
        assert not AuditEntry.objects.exists()


def test_send_back_needs_a_reason_and_an_item_of_the_dossier(under_review, org, member):
    dossier = under_review["dossier"]
    job = _items(dossier)["Job title"]
    other = factories.dossier(org, factories.contact(org), [under_review["job"]])
    [foreign] = _items(other).values()
    with scope(organization=org):
        with pytest.raises(ValidationError) as blank:
            actions.send_back(dossier, item=job, reason="  ", actor=Actor.member(member))
        with pytest.raises(ValidationError) as elsewhere:
            actions.send_back(dossier, item=foreign, reason="No", actor=Actor.member(member))
        decision = actions.send_back(
            dossier, item=job, reason="Unreadable", actor=Actor.member(member)
        )
    assert list(blank.value.message_dict) == ["reason"]
    assert list(elsewhere.value.message_dict) == ["item"]
    assert decision.status == Dossier.Status.TO_REVIEW
    with scopes_disabled():
        assert DossierItem.objects.get(pk=job.pk).review == ItemReview.REJECTED
    [entry] = _entries("dossiers.dossier.rejected")
    assert entry.user == member
    assert (entry.details["item"], entry.details["reason"]) == ("Job title", "Unreadable")


def test_approve_doors_back_office_one_item_approve_all_and_api(under_review, org, member_client):
    dossier = under_review["dossier"]
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
    with _spy("approve") as spy:
        member_client.post(url + "approve/", {"item": under_review["job"].uuid.hex})
    assert spy.call_count == 1
    with _spy("approve") as spy:
        member_client.post(url + "approve/")  # the page of what will change: no decision
    assert spy.call_count == 0
    with _spy("approve") as spy:
        assert factories.approve_all(member_client, url).status_code == 302
    assert spy.call_count == 1
    assert _reload(dossier).status == Dossier.Status.APPROVED

    again = factories.dossier(
        org,
        factories.contact(org, email="b@example.com"),
        [under_review["job"]],
        kind=Dossier.Kind.UPDATE,
        update_group_id=under_review["group"].pk,
        period=dt.date(2026, 1, 31),
    )
    Client().post(
        f"/d/{factories.token(again)}/", {_name(under_review["job"]): "X", "action": "submit"}
    )
    with _spy("approve") as spy:
        response = client_for(issue(org)[1]).post(
            f"/api/v1/dossiers/{again.uuid}/approve/", "{}", content_type="application/json"
        )
    assert response.status_code == 200 and spy.call_count == 1
    assert response.json() == {"approved": 1, "status": "approved"}


def test_send_back_doors_back_office_and_api(under_review, org, member_client):
    dossier = under_review["dossier"]
    with _spy("send_back") as spy:
        response = member_client.post(
            f"/o/{org.slug}/dossiers/{dossier.uuid}/reject/",
            {"item": under_review["job"].uuid.hex, "reason": "Unreadable"},
        )
    assert response.status_code == 302 and spy.call_count == 1
    with _spy("send_back") as spy:
        response = client_for(issue(org)[1]).post(
            f"/api/v1/dossiers/{dossier.uuid}/reject/",
            {"item": str(under_review["proof"].uuid), "reason": "Blurred"},
            content_type="application/json",
        )
    assert response.status_code == 200 and spy.call_count == 1
    assert response.json() == {"status": "changes_requested"}


# resend_link and open_client_page


def test_resend_link_and_open_client_page_are_the_member_s(org, member, kyc):
    dossier = kyc["dossier"]
    with scope(organization=org):
        actions.resend_link(dossier, actor=Actor.member(member))
        token = actions.open_client_page(dossier, actor=Actor.member(member))
        access = AccessToken.objects.get(issued_to=member)
    assert access.recipient == kyc["profile"] and len(token) >= 20
    for action in ("dossiers.dossier.resent", "dossiers.dossier.client_page_opened"):
        [entry] = _entries(action)
        assert (entry.actor, entry.user, entry.target) == ("member", member, dossier.title)


def test_a_closed_dossier_has_no_link_to_resend(org, member, kyc):
    dossier = kyc["dossier"]
    with scope(organization=org):
        Dossier.objects.filter(pk=dossier.pk).update(status=Dossier.Status.EXPIRED)
        with pytest.raises(ValidationError):
            actions.resend_link(_reload(dossier), actor=Actor.member(member))
    assert not _entries("dossiers.dossier.resent")


def test_a_company_without_representative_has_no_client_page(org, member):
    company = factories.company(org)
    dossier = factories.dossier(org, company, [factories.field(org, "text", applies_to="company")])
    with scope(organization=org), pytest.raises(ValidationError):
        actions.open_client_page(dossier, actor=Actor.member(member))
    assert not _entries("dossiers.dossier.client_page_opened")


def test_resend_and_client_page_doors_back_office(org, member_client, kyc):
    url = f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/"
    with _spy("resend_link") as spy:
        assert member_client.post(url + "resend/").status_code == 302
    assert spy.call_count == 1
    with _spy("open_client_page") as spy:
        assert member_client.post(url + "link/")["Location"].startswith("/d/")
    assert spy.call_count == 1


# revoke_links


def test_revoke_links_door_a_changed_e_mail_names_the_member_who_changed_it(
    org, member, member_client, kyc
):
    profile = kyc["profile"]
    factories.token(kyc["dossier"])
    with _spy("revoke_links") as spy:
        response = member_client.post(
            f"/o/{org.slug}/profiles/{profile.uuid}/edit/",
            {
                "first_name": profile.first_name,
                "last_name": profile.last_name,
                "email": "new@example.com",
                "language": "en",
            },
        )
    assert response.status_code == 302
    assert spy.call_count == 1
    [entry] = _entries("dossiers.links.revoked")
    # Whoever changed the address revoked the links, not an anonymous system (L3).
    assert (entry.actor, entry.user, entry.organization) == ("member", member, org)
    assert entry.details["links"] == "1"


# purge


def _old_update_dossier(org: Any) -> Dossier:
    job = factories.field(org, "text")
    return factories.dossier(
        org,
        factories.contact(org),
        [job],
        kind=Dossier.Kind.UPDATE,
        period=dt.date(2027, 1, 31),
    )


def test_purge_audits_each_organisation_in_its_own_log_as_the_system(org, other_org):
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        for _ in range(2):
            _old_update_dossier(org)
        _old_update_dossier(other_org)
    later = dt.datetime(2027, 4, 15, 9, tzinfo=dt.UTC)
    with time_machine.travel(later, tick=False), scopes_disabled():
        done = actions.purge(actor=Actor.system("purge_dossiers"))
    assert (done.expired, done.purged) == (3, 3)
    entries = _entries("dossiers.dossiers.purged")
    assert sorted((e.organization_id, e.details["dossiers"]) for e in entries) == sorted(
        [(org.pk, "2"), (other_org.pk, "1")]
    )
    assert all(e.actor == "system" and e.details["job"] == "purge_dossiers" for e in entries)
    with translation.override("en"):
        assert describe(entries[0].action, {"dossiers": "2"}) == (
            "2 update dossiers purged, their records kept"
        )


def test_purge_with_nothing_to_purge_says_nothing(org):
    with scopes_disabled():
        assert actions.purge(actor=Actor.system("purge_dossiers")).purged == 0
    assert not _entries("dossiers.dossiers.purged")


def test_purge_doors_command_and_task_call_it(org):
    with _spy("purge") as spy:
        call_command("purge_dossiers", stdout=io.StringIO())
    assert spy.call_count == 1
    with _spy("purge") as spy:
        dossiers.tasks.purge_dossiers.apply()
    assert spy.call_count == 1


# No door of these verbs writes an audit entry itself.

_AUDIT_CALL = re.compile(r"\b(?:audit|record_audit|self\.audit)\(")


@pytest.mark.parametrize(
    "door",
    [
        dossiers.views,
        dossiers.portal,
        dossiers.tasks,
        dossiers.management.commands.purge_dossiers,
        DossierViewSet,
        # Nor the machinery the actions call.
        dossiers.submission,
        dossiers.review,
        dossiers.revocation,
        dossiers.retention,
    ],
    ids=lambda door: getattr(door, "__qualname__", None) or door.__name__,
)
def test_no_door_of_a_dossier_verb_writes_an_audit_entry(door):
    assert not _AUDIT_CALL.search(inspect.getsource(door))
