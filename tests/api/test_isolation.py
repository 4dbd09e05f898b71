"""Walks every API route of the URL configuration: another organisation's key finds nothing."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring.models import UpdateRun
from profiles.models import Document
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str
    regex: str
    methods: tuple[str, ...]
    detail: bool


def _walk(patterns, prefix: str = "") -> list[Route]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "actions", None):
            regex = prefix + str(pattern.pattern)
            routes.append(
                Route(
                    pattern.name,
                    regex,
                    tuple(pattern.callback.actions),
                    "(?P<uuid>" in regex,
                )
            )
    return routes


API = [r for r in _walk(get_resolver().url_patterns) if r.regex.startswith("api/v1/")]


def _url(route: Route, objects: dict[str, object]) -> str:
    basename = route.name.split("-", 1)[0]
    kwargs = {"uuid": objects[basename]} if route.detail else {}
    return reverse(f"api:{route.name}", kwargs=kwargs)


@pytest.fixture
def objects(org):
    field = factories.field(org, "document")
    text = factories.field(org, "text")
    profile = factories.contact(org)
    group = factories.group(org, [field])
    key = default_storage.save("documents/x", ContentFile(factories.PDF))
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=field,
            file=key,
            name="x.pdf",
            content_type="application/pdf",
            size=1,
        )
        apply_values(
            profile,
            [NewValue(field, str(document.uuid), document), NewValue(text, "Secret")],
            source="staff",
        )
        UpdateRun.objects.create(
            organization=org,
            group=group,
            period=dt.date(2026, 1, 31),
            index=0,
            due_at=group.next_run_at,
        )
    dossier = factories.dossier(org, profile, [field, text])
    return {
        "profile": profile.uuid,
        "field": field.uuid,
        "text": text.uuid,
        "group": group.uuid,
        "dossier": dossier.uuid,
        "document": document.uuid,
    }


def test_the_walk_finds_every_resource():
    names = {r.name for r in API}
    assert {
        "profile-list",
        "profile-detail",
        "profile-values",
        "profile-archive",
        "field-detail",
        "group-detail",
        "group-runs",
        "dossier-detail",
        "dossier-approve",
        "dossier-reject",
        "document-detail",
    } <= names


def test_the_organisations_own_key_reaches_every_object(api, objects):
    for route in API:
        if route.detail and "get" in route.methods:
            url = _url(route, objects)
            assert api.get(url).status_code == 200, url


def test_another_organisations_key_gets_404_on_every_object(outsider_api, objects):
    detail = [r for r in API if r.detail]
    assert len(detail) >= 10
    for route in detail:
        url = _url(route, objects)
        for method in route.methods:
            if method == "get":
                response = outsider_api.get(url)
            else:
                response = getattr(outsider_api, method)(url, "{}", content_type="application/json")
            assert response.status_code == 404, (
                f"{method.upper()} {url} gave {response.status_code}"
            )
            assert response.json()["errors"][0]["code"] == "not_found"
    with scopes_disabled():
        dossier = Dossier.objects.get(uuid=objects["dossier"])
    assert dossier.status == "open"


def test_another_organisations_lists_hold_nothing_of_ours(outsider_api, objects):
    secrets = {str(value) for value in objects.values()}
    for route in API:
        if not route.detail and "get" in route.methods:
            body = outsider_api.get(_url(route, objects)).content.decode()
            assert not any(secret in body for secret in secrets), route.name


def test_another_organisations_objects_cannot_be_named_in_a_write(outsider_api, objects, other_org):
    theirs = factories.contact(other_org)
    attempts = [
        (
            "/api/v1/dossiers/",
            {"profile": str(objects["profile"]), "fields": [str(objects["text"])], "title": "x"},
            {"profile", "fields"},
        ),
        (
            "/api/v1/groups/",
            {
                "title": "x",
                "applies_to": "contact",
                "start_date": "2026-01-01",
                "interval_unit": "months",
                "fields": [str(objects["text"])],
            },
            {"fields"},
        ),
        (
            "/api/v1/profiles/",
            {
                "kind": "contact",
                "last_name": "x",
                "email": "x@x.io",
                "company": str(objects["profile"]),
            },
            {"company"},
        ),
    ]
    for url, body, wrong in attempts:
        response = outsider_api.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400, url
        assert {e["attr"].split(".")[0] for e in response.json()["errors"]} == wrong, (
            response.json()
        )
    response = outsider_api.patch(
        f"/api/v1/profiles/{theirs.uuid}/values/",
        json.dumps({"values": [{"field": str(objects["text"]), "value": "x"}]}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "values.0.field"
