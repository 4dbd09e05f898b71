"""Fixtures of the dossiers' tests: an update dossier of a group, submitted for review."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from profiles.models import Document, FieldValue, FieldValueHistory
from profiles.services import NewValue, apply_values
from tests import factories


@pytest.fixture
def kyc(org):
    """An update dossier of a group asking for a job title and a proof of address."""
    job = factories.field(org, "text", label="Job title")
    proof = factories.field(org, "document", label="Proof of address")
    profile = factories.contact(org, language="en", email="client@example.com")
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=proof,
            file="documents/on-file",
            name="old-bill.pdf",
            content_type="application/pdf",
            size=10,
        )
        apply_values(
            profile,
            [NewValue(job, "Baker"), NewValue(proof, str(document.uuid), document)],
            source="staff",
        )
    group = factories.group(org, [job, proof])
    dossier = factories.dossier(
        org,
        profile,
        [job, proof],
        kind=Dossier.Kind.UPDATE,
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    return {"job": job, "proof": proof, "profile": profile, "group": group, "dossier": dossier}


def _name(field) -> str:
    return f"f_{field.uuid.hex}"


def _confirm(field) -> str:
    return f"c_{field.uuid.hex}"


def _pdf(name="new-bill.pdf"):
    return SimpleUploadedFile(name, factories.PDF, "application/pdf")


def _reload(dossier) -> Dossier:
    with scopes_disabled():
        return Dossier.objects.get(pk=dossier.pk)


def _history(field):
    with scopes_disabled():
        return list(
            FieldValueHistory.objects.filter(field=field)
            .select_related("user", "recipient", "approved_by")
            .order_by("id")
        )


def _value(field) -> FieldValue:
    with scopes_disabled():
        return FieldValue.objects.get(field=field)


@pytest.fixture
def reviewed(kyc, client):
    factories.set_review(kyc["group"])
    token = factories.token(kyc["dossier"])
    response = client.post(
        f"/d/{token}/",
        {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
    )
    assert response.status_code == 302
    return {**kyc, "token": token}
