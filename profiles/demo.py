"""Contacts, companies and fields of every type for the demo organisation."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from pypdf import PdfWriter

from organizations.actors import Actor
from organizations.models import Organization
from profiles.actions import set_values
from profiles.models import DataField, FieldType, Kind, Profile

CONTACT_FIELDS = [
    ("Identity", "Date of birth", FieldType.DATE, {}),
    (
        "Identity",
        "Nationality",
        FieldType.CHOICE,
        {"choices": ["French", "Belgian", "Swiss", "Other"]},
    ),
    ("Identity", "Proof of address", FieldType.DOCUMENT, {"help_text": "Less than 3 months old."}),
    ("Identity", "Identity document", FieldType.DOCUMENT, {}),
    ("Situation", "Job title", FieldType.TEXT, {}),
    ("Situation", "Annual income (EUR)", FieldType.NUMBER, {}),
    ("Situation", "Politically exposed person", FieldType.BOOLEAN, {}),
    ("Situation", "Personal e-mail", FieldType.EMAIL, {}),
    ("Situation", "Mobile phone", FieldType.PHONE, {}),
    ("Situation", "Notes", FieldType.LONG_TEXT, {}),
]
COMPANY_FIELDS = [
    ("Compliance", "KYC attestation", FieldType.DOCUMENT, {"help_text": "Signed by a director."}),
    ("Compliance", "Articles of association", FieldType.DOCUMENT, {}),
    (
        "Compliance",
        "Sector",
        FieldType.CHOICE,
        {"choices": ["Finance", "Industry", "Retail", "Services"]},
    ),
    ("Figures", "Annual turnover (EUR)", FieldType.NUMBER, {}),
    ("Figures", "Incorporation date", FieldType.DATE, {}),
    ("Figures", "Listed on a stock exchange", FieldType.BOOLEAN, {}),
]
# The demo organisation writes in English; its French clients read these.
FRENCH: dict[str, dict[str, Any]] = {
    "Date of birth": {"label": "Date de naissance"},
    "Nationality": {
        "label": "Nationalité",
        "choices": {
            "French": "Française",
            "Belgian": "Belge",
            "Swiss": "Suisse",
            "Other": "Autre",
        },
    },
    "Proof of address": {
        "label": "Justificatif de domicile",
        "help_text": "De moins de 3 mois.",
    },
    "Identity document": {"label": "Pièce d'identité"},
    "Job title": {"label": "Profession"},
    "Annual income (EUR)": {"label": "Revenu annuel (EUR)"},
    "Politically exposed person": {"label": "Personne politiquement exposée"},
    "Personal e-mail": {"label": "E-mail personnel"},
    "Mobile phone": {"label": "Téléphone portable"},
    "Notes": {"label": "Remarques"},
    "KYC attestation": {"label": "Attestation KYC", "help_text": "Signée par un dirigeant."},
    "Articles of association": {"label": "Statuts"},
    "Sector": {
        "label": "Secteur",
        "choices": {
            "Finance": "Finance",
            "Industry": "Industrie",
            "Retail": "Commerce",
            "Services": "Services",
        },
    },
    "Annual turnover (EUR)": {"label": "Chiffre d'affaires annuel (EUR)"},
    "Incorporation date": {"label": "Date de création"},
    "Listed on a stock exchange": {"label": "Cotée en bourse"},
}
# Section headings, translated like the fields' texts.
FRENCH_SECTIONS = {
    "Identity": "Identité",
    "Situation": "Situation",
    "Compliance": "Conformité",
    "Figures": "Chiffres",
}

COMPANIES = [
    ("Boulangerie Martin SARL", "RCS 812 345 678", "12 rue des Lilas\n75011 Paris"),
    ("Nordwind Logistics SA", "CHE-123.456.789", "Bahnhofstrasse 5\n8001 Zürich"),
    ("Atelier Dupont", "RCS 901 222 333", "3 quai Saint-Antoine\n69002 Lyon"),
]
CONTACTS = [
    ("Claire", "Martin", "claire.martin@example.com", "fr", 0, True),
    ("Paul", "Martin", "paul.martin@example.com", "fr", 0, True),
    ("Hannah", "Keller", "hannah.keller@example.com", "en", 1, True),
    ("Luc", "Dupont", "luc.dupont@example.com", "fr", 2, False),
    ("Emma", "Wilson", "emma.wilson@example.com", "en", None, False),
    ("Hugo", "Bernard", "hugo.bernard@example.com", "fr", None, False),
]


def demo_pdf() -> bytes:
    """A blank page, made here so that it opens: set_values checks the demo's documents as
    it checks every upload, by structure."""
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(out)
    return out.getvalue()


def _fields(organization: Organization, kind: str, specs: list) -> dict[str, DataField]:
    fields = {}
    for position, (section, label, type_, extra) in enumerate(specs):
        translations = (
            {"fr": {**FRENCH[label], "section": FRENCH_SECTIONS[section]}}
            if organization.default_language == "en" and label in FRENCH
            else {}
        )
        fields[label], _ = DataField.objects.get_or_create(
            organization=organization,
            applies_to=kind,
            label=label,
            defaults={
                "section": section,
                "type": type_,
                "position": position,
                "translations": translations,
                **extra,
            },
        )
    return fields


def seed(organization: Organization) -> None:
    actor = Actor.system("seed_demo")
    contact_fields = _fields(organization, Kind.CONTACT, CONTACT_FIELDS)
    company_fields = _fields(organization, Kind.COMPANY, COMPANY_FIELDS)
    companies = []
    for name, number, address in COMPANIES:
        company, _ = Profile.objects.get_or_create(
            organization=organization,
            kind=Kind.COMPANY,
            name=name,
            defaults={"registration_number": number, "address": address},
        )
        companies.append(company)
    for first, last, email, language, company_index, representative in CONTACTS:
        contact, created = Profile.objects.get_or_create(
            organization=organization,
            kind=Kind.CONTACT,
            email=email,
            defaults={
                "first_name": first,
                "last_name": last,
                "language": language,
                "company": companies[company_index] if company_index is not None else None,
                "is_representative": representative,
            },
        )
        if created:
            values: list[tuple[DataField, Any]] = [
                (contact_fields["Date of birth"], "1984-05-17"),
                (contact_fields["Nationality"], "French" if language == "fr" else "Other"),
                (contact_fields["Job title"], "Director" if representative else "Consultant"),
                (contact_fields["Mobile phone"], "+33 6 12 34 56 78"),
            ]
            if representative:
                values.append(_document(contact_fields["Proof of address"]))
            set_values(contact, actor=actor, values=values)
    for company in companies[:2]:
        if not company.values.exists():
            set_values(
                company,
                actor=actor,
                values=[
                    (company_fields["Sector"], "Retail"),
                    (company_fields["Annual turnover (EUR)"], "1250000"),
                    (company_fields["Incorporation date"], dt.date(2009, 3, 2).isoformat()),
                    _document(company_fields["KYC attestation"]),
                ],
            )


def _document(field: DataField) -> tuple[DataField, SimpleUploadedFile]:
    """A PDF for `field`, checked and stored by set_values as any upload is."""
    name = f"{field.label.lower().replace(' ', '-')}.pdf"
    return field, SimpleUploadedFile(name, demo_pdf(), "application/pdf")
