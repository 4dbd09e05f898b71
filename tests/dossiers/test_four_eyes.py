"""Four eyes on where a link goes (issue 24, M5).

A member set a client's e-mail to their own, sent the link again, answered with a fake
document through it and approved it alone; the history read "answered by the client,
approved by staff". Whoever sent a dossier's link again, changed the answering person's
contact data during the dossier's life, or set the address the answers' link went to,
cannot decide on those answers, at any door; the pages say where the link went.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled

from api.models import ApiKey
from dossiers import actions, review
from dossiers.models import AccessToken, Intervention
from organizations.actors import Actor
from outbox.mail import send_due
from profiles.actions import erase_profile
from tests import factories
from tests.api.conftest import client_for, issue
from tests.conftest import make_member
from tests.dossiers.conftest import _history, _name, _pdf, _reload, _value

pytestmark = pytest.mark.django_db

MALLORY = "mallory@evil.example"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def reviewed_kyc(kyc):
    factories.set_review(kyc["group"])
    send_due()  # the invitation to the client's own address
    mail.outbox.clear()
    return kyc


def _edit_email(client: Client, org, profile, email: str) -> None:
    identity = {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": email,
        "phone": "",
        "language": "en",
    }
    response = client.post(f"/o/{org.slug}/profiles/{profile.uuid}/edit/", identity)
    assert response.status_code == 302, response.context["form"].errors


def _link_sent_to(address: str) -> str:
    send_due()
    [message] = [m for m in mail.outbox if m.to == [address]]
    mail.outbox.clear()
    return re.search(r"/d/([\w-]+)/", message.body).group(1)


def _answer(token: str, kyc) -> None:
    response = Client().post(
        f"/d/{token}/",
        {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf("fake.pdf"), "action": "submit"},
    )
    assert response.status_code == 302
    assert _reload(kyc["dossier"]).status == "to_review"


@pytest.fixture
def redirected(reviewed_kyc, member_client, org):
    """The attack: the member points the client's e-mail at themselves, sends the link
    again, and answers through it."""
    kyc = reviewed_kyc
    _edit_email(member_client, org, kyc["profile"], MALLORY)
    url = f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/"
    assert member_client.post(url + "resend/").status_code == 302
    _answer(_link_sent_to(MALLORY), kyc)
    return {**kyc, "url": url}


def _undecided(kyc) -> None:
    assert _reload(kyc["dossier"]).status == "to_review"
    assert _value(kyc["job"]).value == "Baker"


def test_the_link_and_the_answers_record_the_address_they_went_to(redirected):
    with scopes_disabled():
        assert set(AccessToken.objects.values_list("sent_to", flat=True)) >= {MALLORY}
        dossier = _reload(redirected["dossier"])
        items = list(dossier.items.all())
    assert dossier.submitted_via == MALLORY
    assert {item.answered_via for item in items} == {MALLORY}


def test_the_member_cannot_approve_an_item_on_the_review_page(member_client, redirected):
    response = member_client.post(
        redirected["url"] + "approve/", {"item": redirected["job"].uuid.hex}, follow=True
    )
    assert "link again, or changed the contact data" in response.text
    _undecided(redirected)


def test_the_member_cannot_approve_all(member_client, redirected):
    response = factories.approve_all(member_client, redirected["url"])
    assert response.status_code == 302
    _undecided(redirected)


def test_the_member_cannot_send_an_item_back(member_client, redirected):
    response = member_client.post(
        redirected["url"] + "reject/",
        {"item": redirected["proof"].uuid.hex, "reason": "Blurred"},
        follow=True,
    )
    assert "link again, or changed the contact data" in response.text
    with scopes_disabled():
        assert not _reload(redirected["dossier"]).items.filter(review="rejected").exists()


def test_the_action_refuses_whatever_the_door(member, redirected):
    with scopes_disabled(), pytest.raises(review.Involved):
        actions.approve(redirected["dossier"], item_ids=None, actor=Actor.member(member))
    _undecided(redirected)


def test_another_member_decides_and_the_pages_say_where_the_link_went(
    owner_client, org, redirected
):
    page = owner_client.get(redirected["url"])
    assert f"answered through a link sent to {MALLORY}" in page.text
    factories.approve_all(owner_client, redirected["url"])
    assert _reload(redirected["dossier"]).status == "approved"
    assert _history(redirected["job"])[-1].via == MALLORY
    history = owner_client.get(f"/o/{org.slug}/profiles/{redirected['profile'].uuid}/history/")
    assert f"answered through a link sent to {MALLORY}" in history.text


def test_the_pages_say_it_in_french(owner_client, org, redirected):
    owner_client.cookies["django_language"] = "fr"
    page = owner_client.get(redirected["url"])
    assert f"répondu par un lien envoyé à {MALLORY}" in page.text


def test_a_change_of_address_during_the_dossier_s_life_is_enough(reviewed_kyc, org):
    """The member changes the e-mail and waits: a colleague (or a reminder) sends the link."""
    kyc = reviewed_kyc
    changer, sender, third = (make_member(org, name, "staff") for name in ("c", "s", "t"))
    _edit_email(_logged_in(changer), org, kyc["profile"], MALLORY)
    with scopes_disabled():
        actions.resend_link(kyc["dossier"], actor=Actor.member(sender))
    _answer(_link_sent_to(MALLORY), kyc)
    url = f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/"
    for involved in (changer, sender):
        factories.approve_all(_logged_in(involved), url)
        _undecided(kyc)
    factories.approve_all(_logged_in(third), url)
    assert _reload(kyc["dossier"]).status == "approved"


def test_an_address_set_before_the_dossier_opened_counts_too(org, member):
    """The e-mail is set first; a later dossier (a scheduled one) goes to that address."""
    kyc = _kyc_with_review(org)
    profile = kyc["profile"]
    _edit_email(_logged_in(member), org, profile, MALLORY)
    dossier = factories.dossier(
        org,
        profile,
        [kyc["job"], kyc["proof"]],
        kind="update",
        update_group_id=kyc["group"].pk,
        period="2026-02-28",
    )
    _answer(_link_sent_to(MALLORY), {**kyc, "dossier": dossier})
    with scopes_disabled(), pytest.raises(review.Involved):
        actions.approve(dossier, item_ids=None, actor=Actor.member(member))


def test_an_api_key_that_set_the_address_cannot_decide_through_the_api(org):
    kyc = _kyc_with_review(org)
    _key, secret = issue(org)
    api = client_for(secret)
    response = api.patch(
        f"/api/v1/profiles/{kyc['profile'].uuid}/",
        json.dumps({"email": MALLORY}),
        content_type="application/json",
    )
    assert response.status_code == 200
    dossier = factories.dossier(
        org,
        kyc["profile"],
        [kyc["job"], kyc["proof"]],
        kind="update",
        update_group_id=kyc["group"].pk,
        period="2026-02-28",
    )
    _answer(_link_sent_to(MALLORY), {**kyc, "dossier": dossier})
    approve = api.post(f"/api/v1/dossiers/{dossier.uuid}/approve/", {}, "application/json")
    assert approve.status_code == 409 and "contact data" in approve.text
    reject = api.post(
        f"/api/v1/dossiers/{dossier.uuid}/reject/",
        {"item": str(kyc["proof"].uuid), "reason": "Blurred"},
        "application/json",
    )
    assert reject.status_code == 409
    assert _reload(dossier).status == "to_review"
    # Another key of the organisation is another pair of eyes.
    other = client_for(issue(org, name="Reviewer")[1])
    assert (
        other.post(f"/api/v1/dossiers/{dossier.uuid}/approve/", {}, "application/json").json()[
            "status"
        ]
        == "approved"
    )


def test_a_member_who_changed_nothing_that_routes_links_still_decides(
    reviewed_kyc, member_client, org, member
):
    kyc = reviewed_kyc
    response = member_client.post(
        f"/o/{org.slug}/profiles/{kyc['profile'].uuid}/edit/",
        {
            "first_name": "Ann",
            "last_name": "Client",
            "email": "client@example.com",
            "phone": "+33 6 12 34 56 78",
            "language": "en",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert not Intervention.objects.exists()
    token = factories.token(kyc["dossier"])
    _answer(token, kyc)
    with scopes_disabled():
        actions.approve(kyc["dossier"], item_ids=None, actor=Actor.member(member))
    assert _reload(kyc["dossier"]).status == "approved"


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _kyc_with_review(org):
    job = factories.field(org, "text", label="Job title")
    proof = factories.field(org, "document", label="Proof of address")
    profile = factories.contact(org, language="en", email="client@example.com")
    group = factories.group(org, [job, proof], review_required=True)
    send_due()
    mail.outbox.clear()
    return {"job": job, "proof": proof, "profile": profile, "group": group}


def test_erasing_the_person_erases_the_addresses_recorded(owner, redirected):
    with scopes_disabled():
        assert Intervention.objects.filter(person=redirected["profile"]).exists()
        erase_profile(redirected["profile"], actor=Actor.member(owner))
        assert not Intervention.objects.exists()
        assert not AccessToken.objects.filter(sent_to=MALLORY).exists()


def _answered_through(org, kyc, *, period: str):
    dossier = factories.dossier(
        org,
        kyc["profile"],
        [kyc["job"], kyc["proof"]],
        kind="update",
        update_group_id=kyc["group"].pk,
        period=period,
    )
    _answer(_link_sent_to(MALLORY), {**kyc, "dossier": dossier})
    return dossier


def test_a_member_and_the_key_they_created_are_one_pair_of_eyes(org, member, member_client):
    """Found by the second outside test: the member's key changed the address, the member
    approved in the back office (and the other way round)."""
    kyc = _kyc_with_review(org)
    with scopes_disabled():
        _key, secret = ApiKey.issue(org, name="Mine", access=ApiKey.Access.WRITE, created_by=member)
    api = client_for(secret)
    response = api.patch(
        f"/api/v1/profiles/{kyc['profile'].uuid}/",
        json.dumps({"email": MALLORY}),
        content_type="application/json",
    )
    assert response.status_code == 200
    dossier = _answered_through(org, kyc, period="2026-02-28")
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
    with scopes_disabled():
        item = dossier.items.get(field=kyc["job"])
    member_client.post(url + "approve/", {"item": str(item.field.uuid)})
    assert _reload(dossier).status == "to_review"
    with scopes_disabled(), pytest.raises(review.Involved):
        actions.approve(dossier, item_ids=None, actor=Actor.member(member))
    assert _reload(dossier).status == "to_review"


def test_a_key_cannot_approve_what_its_creator_redirected(org, member, member_client):
    kyc = _kyc_with_review(org)
    _edit_email(member_client, org, kyc["profile"], MALLORY)
    dossier = _answered_through(org, kyc, period="2026-02-28")
    with scopes_disabled():
        _key, secret = ApiKey.issue(org, name="Mine", access=ApiKey.Access.WRITE, created_by=member)
    approve = client_for(secret).post(
        f"/api/v1/dossiers/{dossier.uuid}/approve/", {}, "application/json"
    )
    assert approve.status_code == 409
    assert _reload(dossier).status == "to_review"


def _import_csv(client, org, data: bytes):
    from tests.imports.test_import import _import

    return _import(client, org, data)


def test_an_address_set_by_an_import_is_an_intervention_of_its_member(
    org, member, member_client, client
):
    """Found by the second outside test: an import (or the API's upsert) changed the e-mail
    without a trace, and the member approved what came back through it."""
    kyc = _kyc_with_review(org)
    token = factories.token(
        factories.dossier(org, kyc["profile"], [kyc["job"]], kind="update", period="2026-01-31")
    )
    _import_csv(member_client, org, b"Reference,Last name,E-mail\nC1,Client,client@example.com\n")
    _import_csv(member_client, org, b"Reference,Last name,E-mail\nC1,Client,mallory@evil.example\n")
    with scopes_disabled():
        assert Intervention.objects.filter(user=member, email=MALLORY).exists()
        # The old link went with the old address, as after the staff form.
        assert not AccessToken.objects.filter(recipient=kyc["profile"]).exists()
    assert client.get(f"/d/{token}/").status_code == 404
    dossier = _answered_through(org, kyc, period="2026-02-28")
    with scopes_disabled(), pytest.raises(review.Involved):
        actions.approve(dossier, item_ids=None, actor=Actor.member(member))


def test_an_address_set_through_the_upsert_is_an_intervention_of_the_key(org, member):
    kyc = _kyc_with_review(org)
    with scopes_disabled():
        _key, secret = ApiKey.issue(org, name="Mine", access=ApiKey.Access.WRITE, created_by=member)
    api = client_for(secret)
    for email in ("client@example.com", MALLORY):
        body = {
            "kind": "contact",
            "rows": [{"reference": "C1", "identity": {"last_name": "Client", "email": email}}],
        }
        response = api.post(
            "/api/v1/profiles/upsert/", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200, response.content
    dossier = _answered_through(org, kyc, period="2026-02-28")
    with scopes_disabled(), pytest.raises(review.Involved):
        actions.approve(dossier, item_ids=None, actor=Actor.member(member))
    assert _reload(dossier).status == "to_review"
