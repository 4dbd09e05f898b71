"""Contacts, companies and fields of every type for the demo organisation."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile

from organizations.models import Organization
from profiles.models import DataField, FieldType, Kind, Profile, Source
from profiles.services import NewValue, apply_values, new_document, store_file

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
FRENCH = {
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

DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _fields(organization: Organization, kind: str, specs: list) -> dict[str, DataField]:
    fields = {}
    for position, (section, label, type_, extra) in enumerate(specs):
        translations = (
            {"fr": FRENCH[label]}
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
            values = [
                NewValue(contact_fields["Date of birth"], "1984-05-17"),
                NewValue(contact_fields["Nationality"], "French" if language == "fr" else "Other"),
                NewValue(
                    contact_fields["Job title"], "Director" if representative else "Consultant"
                ),
                NewValue(contact_fields["Mobile phone"], "+33 6 12 34 56 78"),
            ]
            if representative:
                values.append(_document(contact, contact_fields["Proof of address"]))
            apply_values(contact, values, source=Source.IMPORT)
    for company in companies[:2]:
        if not company.values.exists():
            apply_values(
                company,
                [
                    NewValue(company_fields["Sector"], "Retail"),
                    NewValue(company_fields["Annual turnover (EUR)"], "1250000"),
                    NewValue(company_fields["Incorporation date"], dt.date(2009, 3, 2).isoformat()),
                    _document(company, company_fields["KYC attestation"]),
                ],
                source=Source.IMPORT,
            )


def _document(profile: Profile, field: DataField) -> NewValue:
    stored = store_file(
        ContentFile(DEMO_PDF),
        name=f"{field.label.lower().replace(' ', '-')}.pdf",
        content_type="application/pdf",
    )
    document = new_document(profile, field, stored)
    return NewValue(field, str(document.uuid), document)
