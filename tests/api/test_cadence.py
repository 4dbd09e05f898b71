"""Rolling and tiered groups through the API: cadence, tier field and tiers of a group, each
profile's own next update; bad tiers are field errors, never a 500, nothing saved."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django_scopes import scopes_disabled

from monitoring.models import ProfileSchedule, UpdateGroup
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 14, 9, tzinfo=dt.UTC)


def _send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def risk(org):
    return factories.field(org, "choice", choices=["High", "Low"], label="Risk")


def _body(fields, risk, **overrides):
    return {
        "title": "Risque",
        "applies_to": "contact",
        "start_date": "2026-01-31",
        "interval_count": 36,
        "interval_unit": "months",
        "fields": [str(f.uuid) for f in fields],
        "cadence": "tiered",
        "tier_field": str(risk.uuid),
        "tiers": [{"value": "High", "months": 12}, {"value": "Low", "months": 60}],
        **overrides,
    }


def test_a_tiered_group_and_a_profiles_next_update(api, org, risk):
    proof = factories.field(org, "document")
    jane = factories.contact(org)
    with scopes_disabled():
        apply_values(jane, [NewValue(risk, "High")], source="staff")
    with time_machine.travel(NOW, tick=False):
        response = _send(api, "post", "/api/v1/groups/", _body([proof], risk))
    assert response.status_code == 201, response.json()
    group = response.json()
    assert group["cadence"] == "tiered" and group["tier_field"] == str(risk.uuid)
    assert group["tiers"] == [{"value": "High", "months": 12}, {"value": "Low", "months": 60}]
    schedule = api.get(f"/api/v1/profiles/{jane.uuid}/schedule/")
    assert schedule.status_code == 200
    [own] = schedule.json()
    assert own["group"] == group["uuid"] and own["tier"] == "High"
    assert own["due_on"] == "2027-03-14"
    assert own["next_due"] == "2027-03-14T08:00:00+01:00"
    # Back to a calendar group: the rows go.
    changed = _send(api, "patch", f"/api/v1/groups/{group['uuid']}/", {"cadence": "calendar"})
    assert changed.status_code == 200 and changed.json()["tiers"] == []
    assert api.get(f"/api/v1/profiles/{jane.uuid}/schedule/").json() == []


@pytest.mark.parametrize(
    ("overrides", "attr"),
    [
        ({"tiers": [{"value": "High", "months": 0}]}, "tiers"),
        ({"tiers": [{"value": "High", "months": 12}, {"value": "High", "months": 6}]}, "tiers"),
        ({"tiers": [{"value": "Extreme", "months": 12}]}, "tiers"),
        ({"tiers": "High: 12"}, "tiers"),
        ({"tiers": [{"value": "High", "months": "twelve"}]}, "tiers"),
        ({"tier_field": "not-a-uuid"}, "tier_field"),
        ({"tier_field": None}, "tier_field"),
        ({"cadence": "weekly"}, "cadence"),
        ({"interval_count": 0}, "interval_count"),
    ],
)
def test_bad_cadences_are_field_errors_and_nothing_is_saved(api, org, risk, overrides, attr):
    proof = factories.field(org, "document")
    response = _send(api, "post", "/api/v1/groups/", _body([proof], risk, **overrides))
    assert response.status_code == 400, response.content
    assert any(e["attr"].split(".")[0] == attr for e in response.json()["errors"])
    with scopes_disabled():
        assert not UpdateGroup.objects.exists() and not ProfileSchedule.objects.exists()


def test_a_text_tier_field_is_refused_in_french(api, org, risk):
    proof = factories.field(org, "document")
    text = factories.field(org, "text")
    response = api.post(
        "/api/v1/groups/",
        json.dumps(_body([proof], risk, tier_field=str(text.uuid))),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["attr"] == "tier_field" and "champ liste" in error["detail"]


def test_another_organisations_profile_has_no_schedule(api, org, other_org):
    stranger = factories.contact(other_org)
    assert api.get(f"/api/v1/profiles/{stranger.uuid}/schedule/").status_code == 404
