"""The lower findings of the penetration test, each reproduced."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from profiles.models import DataField
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _big_upload(megabytes: int) -> SimpleUploadedFile:
    return SimpleUploadedFile("big.pdf", factories.PDF + b"0" * (megabytes * 1024 * 1024))


def test_a_large_anonymous_post_is_refused_unread_with_a_clear_page(db):
    response = Client().post("/login/", {"username": "x", "password": "y", "f": _big_upload(2)})
    assert response.status_code == 413
    assert "too large" in response.text
    assert response["Connection"] == "close"


def test_the_request_body_limit_holds_for_staff_too(owner_client, org, settings):
    settings.REQUEST_BODY_LIMIT_MB = 1
    profile = factories.contact(org)
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/", {"f": _big_upload(2)}
    )
    assert response.status_code == 413


def test_an_ordinary_login_is_not_refused(db, owner):
    response = Client().post("/login/", {"username": "owner", "password": "pw"})
    assert response.status_code == 302


def test_back_office_pages_are_not_stored_and_use_no_device(owner_client, org):
    for url in (f"/o/{org.slug}/contacts/", f"/o/{org.slug}/settings/", "/login/"):
        response = owner_client.get(url) if url != "/login/" else Client().get(url)
        assert "no-store" in response["Cache-Control"], url
        assert "camera=()" in response["Permissions-Policy"], url
        assert "geolocation=()" in response["Permissions-Policy"], url


def test_sessions_last_twelve_hours_by_default():
    assert django_settings.SESSION_COOKIE_AGE == 12 * 3600


def test_a_dossier_cannot_be_opened_for_an_archived_profile(member_client, org):
    from django.utils import timezone

    field = factories.field(org, "text")
    profile = factories.contact(org)
    profile.archived_at = timezone.now()
    profile.save()
    response = member_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/dossiers/new/",
        {"title": "X", "fields": [field.pk], "message": "", "days": 14},
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert not Dossier.objects.exists()
    page = member_client.get(response["Location"])
    assert "archived" in page.text


def _change_type(client, org, field, new_type):
    return client.post(
        f"/o/{org.slug}/settings/field/{field.uuid}/",
        {"label": field.label, "type": new_type, "max_size_mb": 10, "accepted_types": ["pdf"]},
    )


def test_a_fields_type_cannot_change_while_its_history_holds_values(owner_client, org):
    field = factories.field(org, "number", label="Income")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "12")], source="staff")
        apply_values(profile, [NewValue(field, None, remove=True)], source="staff")  # history only
    _change_type(owner_client, org, field, "date")
    with scopes_disabled():
        assert DataField.objects.get(pk=field.pk).type == "number"
    history = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    assert history.status_code == 200


def test_a_fields_type_cannot_change_while_a_dossier_asks_for_it(owner_client, org):
    field = factories.field(org, "text", label="Job")
    factories.dossier(org, factories.contact(org), [field])
    _change_type(owner_client, org, field, "document")
    with scopes_disabled():
        assert DataField.objects.get(pk=field.pk).type == "text"


def test_an_unused_fields_type_can_change(owner_client, org):
    field = factories.field(org, "text", label="Job")
    _change_type(owner_client, org, field, "number")
    with scopes_disabled():
        assert DataField.objects.get(pk=field.pk).type == "number"


def test_no_e_mail_subject_is_html_escaped():
    from pathlib import Path
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    root = Path(django_settings.BASE_DIR) / "templates"
    subjects = sorted(root.rglob("*subject*.txt"))
    assert len(subjects) >= 6
    name = "O'Brien & <Sons>"
    organization = SimpleNamespace(name=name)
    context = {
        "organization": organization,
        "dossier": SimpleNamespace(profile=SimpleNamespace(display_name=name), title=name),
    }
    for path in subjects:
        rendered = render_to_string(str(path.relative_to(root)), context)
        assert "&#x27;" not in rendered and "&amp;" not in rendered and "&lt;" not in rendered, path
