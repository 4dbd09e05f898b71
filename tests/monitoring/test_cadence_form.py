"""The group form's cadence: rolling and tiered groups saved, bad tiers refused by field in
French and English with nothing saved."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from monitoring.models import Cadence, ProfileSchedule, UpdateGroup
from tests import factories

pytestmark = pytest.mark.django_db


def _post(client, org, **data):
    base = {
        "title": "Risque",
        "applies_to": "contact",
        "start_date": "2026-01-31",
        "frequency": "1-years",
        "interval_count": "",
        "interval_unit": "months",
    }
    return client.post(f"/o/{org.slug}/settings/fields/monitoring/new/", {**base, **data})


@pytest.fixture
def risk(org):
    return factories.field(org, "choice", choices=["High", "Medium", "Low"], label="Risk")


def test_a_tiered_group_is_saved_with_its_tiers_and_rows(owner_client, org, risk):
    proof = factories.field(org, "document", label="Proof")
    factories.contact(org)
    response = _post(
        owner_client,
        org,
        fields=[proof.pk],
        cadence="tiered",
        tier_field=risk.pk,
        tiers="High: 12\r\nMedium: 36\r\nLow: 60",
    )
    assert response.status_code == 302
    with scopes_disabled():
        group = UpdateGroup.objects.get()
        assert ProfileSchedule.objects.filter(group=group).count() == 1
    assert group.cadence == Cadence.TIERED and group.tier_field_id == risk.pk
    assert group.tiers == [
        {"value": "High", "months": 12},
        {"value": "Medium", "months": 36},
        {"value": "Low", "months": 60},
    ]
    # Posted back unchanged, as a browser would, the form keeps every value.
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/")
    assert "High: 12\nMedium: 36\nLow: 60" in page.text


def test_a_group_posted_without_a_cadence_stays_calendar(owner_client, org):
    field = factories.field(org)
    assert _post(owner_client, org, fields=[field.pk]).status_code == 302
    with scopes_disabled():
        assert UpdateGroup.objects.get().cadence == Cadence.CALENDAR
        assert not ProfileSchedule.objects.exists()


@pytest.mark.parametrize(
    ("language", "data", "field", "message"),
    [
        ("en", {"tiers": "High: 0"}, "tiers", "never zero"),
        ("fr", {"tiers": "High: 0"}, "tiers", "jamais zéro"),
        ("en", {"tiers": "High: 12\nHigh: 24"}, "tiers", "given twice"),
        ("fr", {"tiers": "High: 12\nHigh: 24"}, "tiers", "deux fois"),
        ("en", {"tiers": "High twelve"}, "tiers", "a colon"),
        ("fr", {"tiers": "High twelve"}, "tiers", "deux-points"),
        ("en", {"tier_field": "text"}, "tier_field", "list field"),
        ("fr", {"tier_field": "text"}, "tier_field", "champ liste"),
    ],
)
def test_bad_tiers_are_field_errors_and_nothing_is_saved(
    owner_client, org, risk, language, data, field, message
):
    owner_client.cookies["django_language"] = language
    proof = factories.field(org, "document", label="Proof")
    if data.get("tier_field") == "text":
        data = {**data, "tier_field": factories.field(org, "text").pk}
    response = _post(
        owner_client,
        org,
        fields=[proof.pk],
        cadence="tiered",
        **{"tier_field": risk.pk, "tiers": "High: 12", **data},
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors
    # What was typed is kept.
    assert response.context["form"]["tiers"].value() is not None
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()


def test_tiers_typed_for_another_cadence_are_not_refused(owner_client, org, risk):
    field = factories.field(org)
    response = _post(owner_client, org, fields=[field.pk], cadence="rolling", tiers="nonsense")
    assert response.status_code == 302
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    assert (group.cadence, group.tiers, group.tier_field_id) == (Cadence.ROLLING, [], None)


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "The group asks 2 contacts, each on their own day"),
        ("fr", "Le groupe interroge 2 contacts, chacun à son propre jour"),
    ],
)
def test_the_preview_of_a_tiered_group_lists_no_calendar_dates(
    owner_client, org, risk, language, said
):
    owner_client.cookies["django_language"] = language
    factories.contact(org)
    factories.contact(org)
    base = {"title": "Risk", "applies_to": "contact", "start_date": "2026-01-31"}
    url = f"/o/{org.slug}/settings/fields/monitoring/new/preview/"
    calendar = owner_client.get(url, {**base, "frequency": "1-years"}, HTTP_HX_REQUEST="true")
    assert len(calendar.context["preview"].dates) == 6
    assert 'class="upcoming"' in calendar.text
    tiered = owner_client.get(
        url,
        {**base, "frequency": "1-years", "cadence": "tiered", "tier_field": risk.pk},
        HTTP_HX_REQUEST="true",
    )
    assert said in tiered.text
    assert 'class="upcoming"' not in tiered.text
