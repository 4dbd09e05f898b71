"""A value asked in an open dossier says so on the profile page, until the client answers."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier
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


def test_an_approved_item_is_no_longer_awaited_when_another_is_sent_back(
    owner_client, member_client, client, org
):
    address = factories.field(org, "text", label="Address")
    job = factories.field(org, "text", label="Job")
    profile = factories.contact(org, language="en")
    group = factories.group(org, [address, job], review_required=True)
    dossier = factories.dossier(
        org,
        profile,
        [address, job],
        kind="update",
        update_group_id=group.pk,
        period=group.start_date,
    )
    token = factories.token(dossier)
    answers = {f"f_{address.uuid.hex}": "1 rue X", f"f_{job.uuid.hex}": "Baker"}
    assert client.post(f"/d/{token}/", {**answers, "action": "submit"}).status_code == 302
    decide = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
    member_client.post(decide + "approve/", {"item": address.uuid.hex})
    member_client.post(decide + "reject/", {"item": job.uuid.hex, "reason": "Vague"})
    with scopes_disabled():
        assert Dossier.objects.get(pk=dossier.pk).status == "changes_requested"
    rows = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/").text.split('id="field-')
    assert "awaiting the client" in next(r for r in rows if r.startswith(str(job.uuid)))
    assert "awaiting the client" not in next(r for r in rows if r.startswith(str(address.uuid)))
