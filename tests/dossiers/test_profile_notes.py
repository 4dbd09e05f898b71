"""A value asked in an open dossier says so on the profile page, until the client answers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db


def test_a_requested_value_shows_it_is_awaited_until_submitted(owner_client, client, org):
    asked = factories.field(org, "text", label="Address")
    other = factories.field(org, "text", label="Nickname")
    profile = factories.contact(org, language="en")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/"
    assert "awaiting the client" not in owner_client.get(url).text
    dossier = factories.dossier(org, profile, [asked])
    page = owner_client.get(url)
    day = timezone.localdate(timezone=org.tzinfo).strftime("%d/%m/%Y")  # the house style
    assert f"Update requested on {day}, awaiting the client" in page.text
    rows = page.text.split('id="field-')
    assert "awaiting the client" in next(r for r in rows if r.startswith(str(asked.uuid)))
    assert "awaiting the client" not in next(r for r in rows if r.startswith(str(other.uuid)))
    client.post(
        f"/d/{factories.token(dossier)}/", {f"f_{asked.uuid.hex}": "1 rue X", "action": "submit"}
    )
    assert "awaiting the client" not in owner_client.get(url).text
