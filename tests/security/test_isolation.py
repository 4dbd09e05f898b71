"""Walks every back-office URL of the URL configuration, so that a new page is covered too."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from config.urls import ADMIN_ONLY_OUTSIDE_SETTINGS
from dossiers.models import ItemRejection
from imports.models import ImportJob
from organizations.actions import invite_member
from organizations.actors import Actor
from organizations.models import Membership
from profiles.models import Document, FieldValue
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    name: str
    converters: tuple[str, ...]
    route: str

    @property
    def admin_only(self) -> bool:
        # Chosen by where the page lives, not by a mark its decorator sets: a view that
        # forgets the decorator stays in the walk and fails it.
        return "/settings/" in f"/{self.route}" or self.name in ADMIN_ONLY_OUTSIDE_SETTINGS


def _walk(patterns, namespace: str = "", prefix: str = "") -> list[Page]:
    pages = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            for page in _walk(pattern.url_patterns, inner, prefix + str(pattern.pattern)):
                converters = tuple(pattern.pattern.converters) + page.converters
                pages.append(Page(page.name, converters, page.route))
        elif isinstance(pattern, URLPattern) and pattern.name:
            pages.append(
                Page(
                    f"{namespace}{pattern.name}",
                    tuple(pattern.pattern.converters),
                    prefix + str(pattern.pattern),
                )
            )
    return pages


BACK_OFFICE = [p for p in _walk(get_resolver().url_patterns) if "org_slug" in p.converters]


@pytest.fixture
def objects(org, owner):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    group = factories.group(org, [field])
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=field,
            file="documents/x",
            name="x.pdf",
            content_type="application/pdf",
            size=1,
        )
        apply_values(profile, [NewValue(field, str(document.uuid), document)], source="staff")
        assert FieldValue.objects.filter(profile=profile).exists()
        # A change with a value before it: what "Restore this value" puts back.
        employer = factories.field(org, "text")
        apply_values(profile, [NewValue(employer, "Before")], source="staff")
        [change] = apply_values(profile, [NewValue(employer, "After")], source="staff")
    dossier = factories.dossier(org, profile, [field])
    with scopes_disabled():
        # An answer sent back, kept with its file for staff.
        rejection = ItemRejection.objects.create(
            organization=org,
            item=dossier.items.get(),
            reason="Cut off",
            rejected_at=dossier.created_at,
            upload="documents/x",
            upload_name="x.pdf",
            upload_content_type="application/pdf",
            upload_size=1,
        )
    with scopes_disabled():
        membership = Membership.objects.filter(organization=org).first()
        api_key, _ = ApiKey.issue(org, name="CRM", access=ApiKey.Access.READ)
        endpoint = WebhookEndpoint.objects.create(
            organization=org, url="https://example.com/hooks", events=["value.changed"]
        )
        delivery = WebhookDelivery.objects.create(
            organization=org,
            key="webhook:walk",
            endpoint=endpoint,
            event="value.changed",
            body="{}",
        )
    with scopes_disabled():
        job = ImportJob.objects.create(
            organization=org, kind="contact", filename="clients.csv", file="imports/x"
        )
        invitation = invite_member(
            org, actor=Actor.system("test"), email="invited@example.com", role="staff"
        )
    return {
        "key_uuid": api_key.uuid,
        "endpoint_uuid": endpoint.uuid,
        "delivery_uuid": delivery.uuid,
        "invitation_uuid": invitation.uuid,
        "membership_uuid": membership.uuid,
        "org_slug": org.slug,
        "url_kind": "contacts",
        "profile_uuid": profile.uuid,
        "field_uuid": field.uuid,
        "field_key": field.uuid.hex,
        "period": "2026-01-31",
        "document_uuid": document.uuid,
        "dossier_uuid": dossier.uuid,
        "group_uuid": group.uuid,
        "row_id": change.pk,
        "rejection_id": rejection.pk,
        "job_uuid": job.uuid,
    }


def _urls(objects, slug: str | None = None) -> list[tuple[Page, str]]:
    urls = []
    for page in BACK_OFFICE:
        missing = set(page.converters) - set(objects)
        assert not missing, f"{page.name}: no test object for {missing}; add one to the fixture"
        kwargs = {name: objects[name] for name in page.converters}
        if slug:
            kwargs["org_slug"] = slug
        urls.append((page, reverse(page.name, kwargs=kwargs)))
    return urls


def test_the_walk_finds_the_back_office():
    names = {p.name for p in BACK_OFFICE}
    assert {"profiles:detail", "monitoring:value_popup", "dossiers:detail"} <= names
    assert len(BACK_OFFICE) >= 25


def test_another_organisations_user_gets_404_everywhere(outsider_client, objects, other_org):
    for slug in (None, other_org.slug):
        for page, url in _urls(objects, slug):
            if slug and not (set(page.converters) - {"org_slug", "url_kind"}):
                continue  # their own organisation's list pages are theirs to see
            statuses = {m: getattr(outsider_client, m)(url).status_code for m in ("get", "post")}
            # 405 answers a method the view never takes, before any lookup: it reveals nothing.
            assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), (
                f"{url} ({page.name}) gave {statuses}"
            )


def test_the_admin_pages_are_found_by_their_place():
    admin = {p.name for p in BACK_OFFICE if p.admin_only}
    assert {"audit_log", "member_add", "profiles:field_edit", "monitoring:group_delete"} <= admin
    assert set(ADMIN_ONLY_OUTSIDE_SETTINGS) <= {p.name for p in BACK_OFFICE}
    assert "profiles:detail" not in admin


def test_staff_are_refused_admin_pages(member_client, objects):
    admin_pages = [(p, u) for p, u in _urls(objects) if p.admin_only]
    assert len(admin_pages) >= 10
    for page, url in admin_pages:
        for method in ("get", "post"):
            status = getattr(member_client, method)(url).status_code
            assert status == 403, f"{method.upper()} {url} ({page.name}) gave {status}"


def test_anonymous_users_are_sent_to_log_in(client, objects):
    for page, url in _urls(objects):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url} ({page.name})"
            assert response["Location"].startswith("/login/?next=")


def test_every_form_needs_its_csrf_token(owner, objects):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    for page, url in _urls(objects):
        response = client.post(url)
        assert response.status_code in {403, 405}, f"POST {url} ({page.name})"


def test_the_portal_needs_its_csrf_token(org, objects):
    with scopes_disabled():
        from dossiers.models import Dossier

        dossier = Dossier.objects.get()
    token = factories.token(dossier)
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/d/{token}/", {"action": "submit"})
    assert response.status_code == 403
    assert "Please try again" in response.text
    dossier.refresh_from_db()
    assert dossier.status == "open" and dossier.expires_at > timezone.now()
