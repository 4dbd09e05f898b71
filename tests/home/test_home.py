"""The organisation's home: what needs attention (each count the length of the list its link
opens), runs in progress with their progress, and the coming month's requests."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierMessage, DossierState
from monitoring.models import OverviewState, UpdateGroup, UpdateRun
from outbox.models import Message
from profiles.models import FieldValue, Profile
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock_and_cache():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


def _tile(page, label: str) -> int:
    """The number a tile shows beside its label (numbers written the organisation's way)."""
    text = page.content.decode()
    found = re.search(r'class="stat-n">([\d\s\u202f\xa0,.]+)</span> <span>' + label, text)
    assert found, label
    return int(re.sub(r"\D", "", found.group(1)))


def _attention_world(org):
    """Three contacts asked for an address and a passport date: one of each status."""
    address = factories.field(org, "text", label="Address")
    passport = factories.field(org, "date", label="Passport")
    alice = factories.contact(org, first_name="Alice", last_name="Martin", email="a@x.fr")
    bob = factories.contact(org, first_name="Bob", last_name="Durand", email="b@x.fr")
    factories.contact(org, first_name="Chloé", last_name="Petit", email="c@x.fr")
    factories.group(org, [address, passport], start_date=dt.date(2026, 3, 20))
    with scopes_disabled():
        FieldValue.objects.create(
            organization=org,
            profile=alice,
            field=address,
            value="1 rue",
            expires_on=dt.date(2026, 3, 1),
        )
        FieldValue.objects.create(
            organization=org,
            profile=bob,
            field=address,
            value="2 rue",
            expires_on=dt.date(2026, 3, 25),
        )
    review = factories.dossier(org, alice, [passport])
    refused = factories.dossier(org, bob, [passport])
    with scopes_disabled():
        Dossier.objects.filter(pk=review.pk).update(status=Dossier.Status.TO_REVIEW)
        message = Message.objects.create(
            organization=org,
            key="refused",
            kind="dossiers.invitation",
            address="b@x.fr",
            status=Message.Status.UNDELIVERABLE,
        )
        DossierMessage.objects.create(message=message, dossier=refused, profile=bob)
    from monitoring import overview

    overview.rebuild(org.pk)
    return {"alice": alice, "bob": bob, "review": review, "refused": refused}


def test_the_home_says_what_needs_attention_and_each_count_is_its_list(member_client, org):
    _attention_world(org)
    page = member_client.get(f"/o/{org.slug}/")
    assert page.status_code == 200
    assert _tile(page, "dossier to review") == 1
    assert _tile(page, "value expired") == 1  # Alice's address expired on 1 March
    assert _tile(page, "value expiring within 30 days") == 1  # Bob's on 25 March
    assert _tile(page, "running dossier with an undeliverable e-mail") == 1
    # Chloé's two values, Bob's passport (its request runs: "requested") and Alice's are not.
    missing = _tile(page, "values missing")
    overview_page = member_client.get(f"/o/{org.slug}/monitoring/overview/?status=missing")
    assert overview_page.context["counts"]["missing"] == missing
    queue = member_client.get(f"/o/{org.slug}/dossiers/to-review/")
    assert len(queue.context["page"].object_list) == 1
    listed = member_client.get(f"/o/{org.slug}/dossiers/?outstanding=true&undeliverable=true")
    assert [d.profile.first_name for d in listed.context["page"]] == ["Bob"]


def test_the_home_counts_only_its_own_organisation(member_client, org, other_org):
    _attention_world(other_org)
    page = member_client.get(f"/o/{org.slug}/")
    for label in ("dossiers to review", "values expired", "values missing"):
        assert _tile(page, label) == 0
    assert b"Alice" not in page.content


def test_the_home_is_404_for_another_organisation(outsider_client, org):
    assert outsider_client.get(f"/o/{org.slug}/").status_code == 404
    assert outsider_client.get(f"/o/{org.slug}/home/runs/").status_code == 404


def test_the_brand_and_slash_open_the_home(member_client, org):
    response = member_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"/o/{org.slug}/"
    assert response.templates[0].name == "home/page.html"


def test_a_run_in_progress_shows_its_progress_and_the_page_polls_it(member_client, org):
    field = factories.field(org, "text", label="Address")
    with scopes_disabled():
        Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"C{i}") for i in range(4)
        )
    group = factories.group(org, [field], title="Annual KYC")
    with scopes_disabled():
        run = UpdateRun.objects.create(
            organization=org, group=group, period=dt.date(2026, 3, 10), index=0, due_at=NOW
        )
        first = Profile.objects.filter(organization=org).order_by("id").first()
    factories.dossier(
        org,
        first,
        [field],
        kind=Dossier.Kind.UPDATE,
        update_group_id=group.pk,
        period=run.period,
    )
    page = member_client.get(f"/o/{org.slug}/").content.decode()
    assert 'hx-trigger="every 3s"' in page
    assert '<progress max="4" value="1"' in page
    assert "1 of 4 dossiers opened (25 %)" in page
    with scopes_disabled():
        UpdateRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    fragment = member_client.get(f"/o/{org.slug}/home/runs/", headers={"HX-Request": "true"})
    assert "every 3s" not in fragment.content.decode()  # finished: the polling stops
    assert "Every run has finished." in fragment.content.decode()


def test_a_run_goes_on_showing_when_its_group_is_paused(member_client, org):
    field = factories.field(org, "text", label="Address")
    factories.contact(org, last_name="Only")
    group = factories.group(org, [field], title="Annual KYC")
    with scopes_disabled():
        UpdateRun.objects.create(
            organization=org, group=group, period=dt.date(2026, 3, 10), index=0, due_at=NOW
        )
        OverviewState.objects.create(organization=org, version=1)
        DossierState.objects.create(organization=org, version=1)
    url = f"/o/{org.slug}/"
    assert "0 of 1 dossiers opened (0 %)" in member_client.get(url).content.decode()
    with CaptureQueriesContext(connection) as active:
        member_client.get(url)
    with scopes_disabled():
        UpdateGroup.objects.filter(pk=group.pk).update(is_active=False)
    # Its group is no longer among the active ones the page read: read for the run alone.
    member_client.get(url)  # the paused group's count of whom it asks, cached from here on
    with CaptureQueriesContext(connection) as paused:
        page = member_client.get(url).content.decode()
    assert "Annual KYC" in page and "0 of 1 dossiers opened (0 %)" in page
    # The page's six, and the run's dossiers counted; paused, its group read for the run.
    assert (len(active), len(paused)) == (7, 8)


def test_the_coming_requests_chart_has_a_table_beside_it(member_client, owner_client, org):
    field = factories.field(org, "text", label="Address")
    for i in range(3):
        factories.contact(org, last_name=f"C{i}", email=f"c{i}@x.fr")
    factories.group(
        org, [field], title="Weekly check", start_date=dt.date(2026, 3, 12), interval_unit="weeks"
    )
    factories.group(org, [], title="Far away", start_date=dt.date(2026, 6, 1))
    page = member_client.get(f"/o/{org.slug}/")
    rows = [(c.day, c.group.title, c.requests) for c in page.context["coming"]]
    # 12, 19, 26 March, 2 and 9 April: within 30 days of 10 March, three contacts each.
    assert rows == [(dt.date(2026, 3, d), "Weekly check", 3) for d in (12, 19, 26)] + [
        (dt.date(2026, 4, d), "Weekly check", 3) for d in (2, 9)
    ]
    html = page.content.decode()
    assert 'role="img" aria-labelledby="chart-caption"' in html
    assert "15 requests in all; at most 3 on one day." in html
    assert "Far away" not in html
    assert html.count('class="bar"') == 5
    # Staff read the group's name; administrators get its page.
    assert "/settings/fields/monitoring/" not in html
    assert "/settings/fields/monitoring/" in owner_client.get(f"/o/{org.slug}/").content.decode()


def test_the_home_reads_a_fixed_number_of_queries_whatever_the_data(member_client, org):
    _attention_world(org)
    with scopes_disabled():
        # What a committed write leaves (a test's transaction never commits): the version the
        # counts are cached under.
        OverviewState.objects.create(organization=org, version=1)
        DossierState.objects.create(organization=org, version=1)
    member_client.get(f"/o/{org.slug}/")  # the counts' cache is warm from here on
    counts = []
    for extra in (0, 30):
        with scopes_disabled():
            Profile.objects.bulk_create(
                Profile(organization=org, kind="contact", last_name=f"More {i}")
                for i in range(extra)
            )
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(f"/o/{org.slug}/").status_code == 200
        counts.append(len(queries))
    # Session, user, the memberships (the switcher's with this one, and the two versions
    # counts are cached under: the dossiers' for those to review, the layout's badge too;
    # the overview's for the profiles by type and the cells' counts); active groups,
    # undeliverable, unfinished runs.
    assert counts == [6, 6]


def test_the_home_in_french(member_client, org):
    _attention_world(org)
    page = member_client.get(f"/o/{org.slug}/", headers={"accept-language": "fr"})
    html = page.content.decode()
    assert '<html lang="fr">' in html
    assert "Accueil" in html and "à vérifier" in html


def test_a_decided_dossier_with_a_refused_e_mail_needs_no_attention(member_client, org):
    world = _attention_world(org)
    with scopes_disabled():
        Dossier.objects.filter(pk=world["refused"].pk).update(status=Dossier.Status.APPROVED)
    page = member_client.get(f"/o/{org.slug}/")
    assert _tile(page, "running dossiers with an undeliverable e-mail") == 0
    listed = member_client.get(f"/o/{org.slug}/dossiers/?outstanding=true&undeliverable=true")
    assert list(listed.context["page"]) == []
