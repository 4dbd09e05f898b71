"""The profile page's value rows, rendered in Python (profiles.value_rows), as a reader sees
them: each state of a value, escaped, in English and in French."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from profiles.models import Document, FieldValue
from tests import factories

pytestmark = pytest.mark.django_db


def _row(html: str, field) -> str:
    start = html.index(f'<tr id="field-{field.uuid}">')
    return html[start : html.index("</tr>", start)]


def test_each_state_of_a_value_reads_as_before(member_client, org):
    profile = factories.contact(org)
    today = timezone.localdate()
    expired, expiring, valid, empty = (
        factories.field(org, "text", label=f"<b>{name}</b>")
        for name in ("Expired", "Expiring", "Valid", "Empty")
    )
    document_field = factories.field(org, "document", label="Proof")
    with scopes_disabled():
        FieldValue.objects.create(
            organization=org,
            profile=profile,
            field=expired,
            value="first <line>\nsecond",
            expires_on=today - dt.timedelta(days=3),
        )
        FieldValue.objects.create(
            organization=org,
            profile=profile,
            field=expiring,
            value="x",
            expires_on=today + dt.timedelta(days=3),
        )
        FieldValue.objects.create(
            organization=org,
            profile=profile,
            field=valid,
            value="y",
            expires_on=today + dt.timedelta(days=300),
            last_confirmed_at=timezone.now(),
        )
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=document_field,
            name="proof <1>.pdf",
            size=2048,
            file="documents/proof.pdf",
        )
        FieldValue.objects.create(
            organization=org, profile=profile, field=document_field, document=document
        )
    url = f"/o/{org.slug}/profiles/{profile.uuid}/"
    html = member_client.get(url).text
    history = f"/o/{org.slug}/profiles/{profile.uuid}/history/"

    row = _row(html, expired)
    assert '<th scope="row">&lt;b&gt;Expired&lt;/b&gt;</th>' in row
    assert "first &lt;line&gt;<br>second" in row
    assert '<span class="badge bad">Expired on ' in row
    assert f'href="{history}?field={expired.uuid}"' in row
    popup = f"/o/{org.slug}/profiles/{profile.uuid}/fields/{expired.uuid}/monitoring/"
    assert f'<a class="more-button" href="{popup}" hx-get="{popup}"' in row
    assert 'aria-label="Expiry and updates: &lt;b&gt;Expired&lt;/b&gt;"' in row
    assert '<span class="badge warn">Expires on ' in _row(html, expiring)
    assert '<span class="badge ok">Valid until ' in _row(html, valid)
    assert '<span class="muted evidence">last confirmed on ' in _row(html, valid)
    row = _row(html, document_field)
    assert f'<a href="/o/{org.slug}/documents/{document.uuid}/">' in row
    assert "proof &lt;1&gt;.pdf</a>" in row and "(2.0\xa0KB)" in row
    row = _row(html, empty)
    assert '<span class="muted">Empty</span>' in row
    assert '<button type="button" class="more-button" disabled' in row

    member_client.cookies["django_language"] = "fr"
    french = member_client.get(url).text
    assert '<span class="badge bad">Expiré le ' in _row(french, expired)
    assert '<span class="muted">Vide</span>' in _row(french, empty)
