"""Which column goes where: a profile's own attributes and the organisation's data fields,
matched to the headings by name in either language, then confirmed by a person."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

# Kind is also the import doors' word for contacts and companies: the API's upsert takes it
# from here, reaching no model of profiles.
from profiles.models import DataField, Kind, Profile

REFERENCE = "reference"
# A profile's own attributes an import sets, by kind (profiles.actions.IDENTITY, less what a
# file cannot say: a contact's company is a column naming it).
ATTRIBUTES = {
    Kind.CONTACT: (
        "first_name",
        "last_name",
        "email",
        "phone",
        "language",
        "company",
        "is_representative",
    ),
    Kind.COMPANY: ("name", "registration_number", "address", "language"),
}
# Headings people write for an attribute beyond its label, in either language.
SYNONYMS = {
    REFERENCE: ("reference", "ref", "id", "external id", "référence externe", "identifiant"),
    "email": ("email", "mail", "courriel", "adresse e-mail"),
    "first_name": ("prénom", "first name", "firstname"),
    "last_name": ("nom", "last name", "surname", "nom de famille"),
    "phone": ("tel", "téléphone", "telephone", "phone number"),
    "language": ("langue", "language"),
    "is_representative": ("représentant", "representative"),
    "name": ("raison sociale", "company", "société", "entreprise"),
    "registration_number": ("siren", "siret", "numéro d'immatriculation"),
}


@dataclass(frozen=True)
class Target:
    key: str  # "reference", an attribute's name, or "field:<uuid>"
    label: str | Promise
    names: tuple[str, ...]
    field: DataField | None = None


def attribute_label(name: str) -> str:
    """A profile attribute's label, in the active language."""
    model_field = Profile._meta.get_field(name)
    return capfirst(str(getattr(model_field, "verbose_name", name)))


@functools.lru_cache(maxsize=4096)
def normalised(text: str) -> str:
    """A heading as compared: no accents, no case, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def targets(kind: str, fields: Iterable[DataField]) -> list[Target]:
    """Everything a column may go to, for profiles of `kind`; documents are not among them."""
    found = [Target(REFERENCE, _("External reference"), _names(REFERENCE, _("external reference")))]
    for name in ATTRIBUTES[Kind(kind)]:
        label = attribute_label(name)
        found.append(Target(name, label, _names(name, label)))
    for field in fields:
        if field.applies_to != kind or field.archived_at is not None:
            continue
        labels = [field.label] + [
            field.translation_of(code, "label") or "" for code, _name in settings.LANGUAGES
        ]
        found.append(
            Target(
                f"field:{field.uuid}",
                field.local_label,
                tuple({normalised(label) for label in labels if label}),
                field,
            )
        )
    return found


def _names(key: str, label: str | Promise) -> tuple[str, ...]:
    names = {normalised(key.replace("_", " ")), *(normalised(s) for s in SYNONYMS.get(key, ()))}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            names.add(normalised(str(label)))
    return tuple(names)


def guess(
    headers: Sequence[str], choices: Sequence[Target], saved: dict[str, str] | None = None
) -> dict[int, str]:
    """Column number → target key, by a saved mapping's headings first, then by name; each
    target taken once. A column matched by nothing is left out (ignored)."""
    keys = {t.key for t in choices}
    by_name: dict[str, str] = {}
    for target in choices:
        for name in target.names:
            by_name.setdefault(name, target.key)
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for number, heading in enumerate(headers):
        key = (saved or {}).get(heading) or by_name.get(normalised(heading))
        if key and key in keys and key not in taken:
            mapping[number] = key
            taken.add(key)
    return mapping


def documents_named(headers: Sequence[str], fields: Iterable[DataField], kind: str) -> list[str]:
    """The headings that name a document field: documents come by upload, not in a file."""
    names = set()
    for field in fields:
        if field.is_document and field.applies_to == kind:
            names.add(normalised(field.label))
            names.update(
                normalised(field.translation_of(code, "label") or "")
                for code, _name in settings.LANGUAGES
            )
    names.discard("")
    return [h for h in headers if normalised(h) in names]
