"""The lists: sortable columns kept in the URL with the filters, "clear filters" in empty
states, and bulk actions through the actions (one audit entry per row), confirmed first."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from organizations.models import AuditEntry
from outbox.models import Message
from profiles.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people(org):
    acme = factories.company(org, name="Acme SA", registration_number="B-2")
    zeta = factories.company(org, name="Zeta SA", registration_number="A-1")
    return [
        factories.contact(org, first_name="Ann", last_name="Brown", email="z@x.fr", company=zeta),
        factories.contact(org, first_name="Carl", last_name="Adams", email="y@x.fr", company=acme),
        factories.contact(org, first_name="Dora", last_name="Clark", email="x@x.fr"),
    ]


def _names(response) -> list[str]:
    return [p.display_name for p in response.context["page"]]


def test_contacts_sort_by_each_column_both_ways(member_client, org, people):
    base = f"/o/{org.slug}/contacts/"
    assert _names(member_client.get(base)) == ["Carl Adams", "Ann Brown", "Dora Clark"]
    assert _names(member_client.get(base + "?sort=email")) == [
        "Dora Clark",
        "Carl Adams",
        "Ann Brown",
    ]
    assert _names(member_client.get(base + "?sort=-name")) == [
        "Dora Clark",
        "Ann Brown",
        "Carl Adams",
    ]
    companies = member_client.get(f"/o/{org.slug}/companies/?sort=number")
    assert _names(companies) == ["Zeta SA", "Acme SA"]


def test_the_sorted_header_says_so_and_its_link_reverses_it_keeping_the_filters(
    member_client, org, people
):
    page = member_client.get(f"/o/{org.slug}/contacts/?q=a&status=all&sort=email&page=1")
    html = page.content.decode()
    assert 'aria-sort="ascending"' in html
    email = next(h for h in page.context["headers"] if h["key"] == "email")
    assert email["url"] == "?q=a&status=all&sort=-email"
    # The filter form keeps the sort.
    assert '<input type="hidden" name="sort" value="email">' in html
    assert (
        'aria-sort="descending"'
        in member_client.get(f"/o/{org.slug}/contacts/?sort=-email").content.decode()
    )


@pytest.mark.parametrize(
    "sort", ["password", "-", "--name", "organization__name", "name;drop", "\x00", "-id"]
)
def test_an_unknown_sort_key_is_ignored_never_an_error(member_client, org, people, sort):
    for url in (
        f"/o/{org.slug}/contacts/",
        f"/o/{org.slug}/companies/",
        f"/o/{org.slug}/dossiers/",
    ):
        response = member_client.get(url, {"sort": sort})
        assert response.status_code == 200
    contacts = member_client.get(f"/o/{org.slug}/contacts/", {"sort": sort})
    assert _names(contacts) == ["Carl Adams", "Ann Brown", "Dora Clark"]


def test_dossiers_sort_by_client_and_default_to_the_newest(member_client, org, people):
    field = factories.field(org, "text")
    for person in people:
        factories.dossier(org, person, [field], title=f"About {person.first_name}")
    base = f"/o/{org.slug}/dossiers/"
    clients = [
        d.profile.last_name for d in member_client.get(base + "?sort=client").context["page"]
    ]
    assert clients == ["Adams", "Brown", "Clark"]
    titles = [d.title for d in member_client.get(base + "?sort=-title").context["page"]]
    assert titles == ["About Dora", "About Carl", "About Ann"]
    newest = [d.title for d in member_client.get(base).context["page"]]
    assert newest == ["About Dora", "About Carl", "About Ann"]


def test_an_empty_filtered_list_offers_to_clear_the_filters(member_client, org, people):
    for url in (f"/o/{org.slug}/contacts/?q=nobody", f"/o/{org.slug}/dossiers/?q=nobody"):
        html = member_client.get(url).content.decode()
        assert "Clear filters" in html
    assert "Clear filters" not in member_client.get(f"/o/{org.slug}/dossiers/").content.decode()


def test_the_sorted_list_reads_a_fixed_number_of_queries(member_client, org, people):
    counts = []
    for extra in (0, 20):
        for i in range(extra):
            factories.contact(org, last_name=f"More {i}", email=f"m{i}@x.fr")
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(f"/o/{org.slug}/contacts/?sort=company").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# Bulk actions ------------------------------------------------------------------------------


def test_bulk_archive_confirms_how_many_then_archives_each_with_its_audit_entry(
    member_client, org, people
):
    url = f"/o/{org.slug}/contacts/bulk/archive/"
    chosen = [str(people[0].uuid), str(people[1].uuid)]
    page = member_client.get(url, {"profile": chosen})
    assert page.status_code == 200
    assert "Archive 2 profiles?" in page.content.decode()
    with scopes_disabled():
        assert not Profile.objects.filter(archived_at__isnull=False).exists()  # nothing yet
    done = member_client.post(url, {"profile": chosen, "confirm": "yes"})
    assert done.status_code == 302
    with scopes_disabled():
        archived = set(
            Profile.objects.filter(archived_at__isnull=False).values_list("uuid", flat=True)
        )
        assert {str(u) for u in archived} == set(chosen)
        assert AuditEntry.objects.filter(action="profiles.profile.archived").count() == 2


def test_bulk_on_another_organisations_rows_does_nothing_and_says_why(
    member_client, org, other_org, people
):
    theirs = factories.contact(other_org, first_name="Eve", last_name="Other")
    chosen = [str(people[0].uuid), str(theirs.uuid)]
    for url, data in (
        (f"/o/{org.slug}/contacts/bulk/archive/", {"profile": chosen, "confirm": "yes"}),
        (f"/o/{org.slug}/profiles/bulk/request/", {"profile": chosen, "title": "T", "days": 5}),
        (f"/o/{org.slug}/dossiers/bulk/remind/", {"dossier": [str(theirs.uuid)], "confirm": "yes"}),
        (f"/o/{org.slug}/contacts/bulk/archive/", {"profile": ["not-a-uuid"], "confirm": "yes"}),
    ):
        response = member_client.post(url, data, follow=True)
        assert response.status_code == 200
        text = response.content.decode()
        assert "nothing was done" in text
    with scopes_disabled():
        assert not Profile.objects.filter(archived_at__isnull=False).exists()
        assert not Dossier.objects.exists()
        assert not AuditEntry.objects.filter(
            action__in=["profiles.profile.archived", "dossiers.dossier.created"]
        ).exists()


def test_bulk_with_nothing_ticked_says_so(member_client, org, people):
    response = member_client.get(f"/o/{org.slug}/contacts/bulk/archive/", follow=True)
    assert "Select at least one row first." in response.content.decode()


def test_bulk_request_opens_a_classic_dossier_for_each_and_skips_the_archived(
    member_client, org, people
):
    field = factories.field(org, "text", label="Address")
    with scopes_disabled():
        Profile.objects.filter(pk=people[2].pk).update(archived_at=NOW)
    chosen = [str(p.uuid) for p in people]
    url = f"/o/{org.slug}/profiles/bulk/request/"
    page = member_client.get(url, {"profile": chosen, "list": "contacts"})
    text = page.content.decode()
    assert "Request information from 2 clients" in text
    assert "1 of the selected is archived and is asked for nothing." in text
    refused = member_client.post(url, {"profile": chosen, "title": "Update", "days": 500})
    assert refused.status_code == 200 and refused.context["form"].errors["days"]
    with scopes_disabled():
        assert not Dossier.objects.exists()
    done = member_client.post(
        url,
        {
            "profile": chosen,
            "list": "contacts",
            "title": "Update",
            "days": 10,
            "fields": [str(field.pk)],
        },
    )
    assert done.status_code == 302 and done["Location"] == f"/o/{org.slug}/contacts/"
    with scopes_disabled():
        opened = Dossier.objects.filter(kind=Dossier.Kind.CLASSIC)
        assert sorted(d.profile.first_name for d in opened) == ["Ann", "Carl"]
        assert AuditEntry.objects.filter(action="dossiers.dossier.created").count() == 2


def test_bulk_remind_sends_the_link_again_for_each_open_dossier(member_client, org, people):
    field = factories.field(org, "text")
    open_one = factories.dossier(org, people[0], [field])
    closed = factories.dossier(org, people[1], [field])
    with scopes_disabled():
        Dossier.objects.filter(pk=closed.pk).update(status=Dossier.Status.APPROVED)
        before = Message.objects.count()
    url = f"/o/{org.slug}/dossiers/bulk/remind/"
    chosen = [str(open_one.uuid), str(closed.uuid)]
    page = member_client.get(url, {"dossier": chosen}).content.decode()
    assert "Remind the clients of 1 dossier?" in page
    assert "1 of the selected is closed" in page
    member_client.post(url, {"dossier": chosen, "confirm": "yes"})
    with scopes_disabled():
        assert Message.objects.count() == before + 1
        assert AuditEntry.objects.filter(action="dossiers.dossier.resent").count() == 1


def test_bulk_actions_are_404_for_another_organisation(outsider_client, org, people):
    for url in ("contacts/bulk/archive/", "profiles/bulk/request/", "dossiers/bulk/remind/"):
        assert outsider_client.get(f"/o/{org.slug}/{url}").status_code == 404


def test_a_bulk_confirmation_reads_as_many_queries_for_two_rows_as_for_twenty(
    member_client, org, people
):
    for i in range(18):
        factories.contact(org, last_name=f"More {i}", email=f"m{i}@x.fr")
    with scopes_disabled():
        uuids = [
            str(u) for u in Profile.objects.filter(kind="contact").values_list("uuid", flat=True)
        ]
    counts = []
    for chosen in (uuids[:2], uuids[:20]):
        with CaptureQueriesContext(connection) as queries:
            page = member_client.get(f"/o/{org.slug}/contacts/bulk/archive/", {"profile": chosen})
        assert page.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_refused_selection_says_why_in_french(member_client, org, other_org, people):
    theirs = factories.contact(other_org, first_name="Eve", last_name="Other")
    response = member_client.post(
        f"/o/{org.slug}/contacts/bulk/archive/",
        {"profile": [str(people[0].uuid), str(theirs.uuid)], "confirm": "yes"},
        headers={"accept-language": "fr"},
        follow=True,
    )
    text = response.content.decode()
    refusal = "ne sont plus dans cette liste : rien n\u2019a été fait."
    assert refusal in text
    with scopes_disabled():
        assert not Profile.objects.filter(archived_at__isnull=False).exists()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_bulk_request_form_posted_back_as_a_browser_sends_it(
    member_client, org, people, language
):
    """The confirmation page's own form, sent back unchanged but for the field ticked."""
    field = factories.field(org, "text", label="Address")
    url = f"/o/{org.slug}/profiles/bulk/request/"
    headers = {"accept-language": language}
    page = member_client.get(url, {"profile": [str(people[0].uuid)]}, headers=headers)
    form = page.context["form"]
    data = {
        "profile": [str(people[0].uuid)],
        "list": "contacts",
        "title": form["title"].value(),
        "message": "",
        "days": form["days"].value(),
        "fields": [str(field.pk)],
    }
    assert member_client.post(url, data, headers=headers).status_code == 302
    with scopes_disabled():
        assert Dossier.objects.filter(profile=people[0]).count() == 1
