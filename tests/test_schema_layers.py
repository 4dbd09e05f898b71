"""The schema follows the layers (README, "The schema follows the layers"): a table points
to an app on its right only where the README lists it, with why."""

from __future__ import annotations

from django.apps import apps

ORDER = ["outbox", "organizations", "profiles", "dossiers", "monitoring", "api"]

# Each listed, with why, in the README's architecture section.
LISTED = {
    ("outbox.Message", "organization", "organizations"),
    ("outbox.FailingAddress", "organization", "organizations"),
    ("outbox.DeliveryEvent", "organization", "organizations"),
    ("dossiers.Dossier", "update_group", "monitoring"),
    ("dossiers.DossierRecord", "update_group", "monitoring"),
}


def _upward() -> set[tuple[str, str, str]]:
    found = set()
    for model in apps.get_models():
        app = model._meta.app_label
        if app not in ORDER:
            continue
        for field in model._meta.get_fields():
            target = getattr(field, "related_model", None)
            if not field.concrete or not field.is_relation or target is None:
                continue
            if isinstance(target, str) or target._meta.app_label not in ORDER:
                continue
            if ORDER.index(target._meta.app_label) > ORDER.index(app):
                found.add((model._meta.label, field.name, target._meta.app_label))
    return found


def test_the_only_upward_foreign_keys_are_those_the_readme_lists():
    assert _upward() == LISTED


def test_the_readme_names_each_one():
    with open("README.md", encoding="utf-8") as readme:
        text = readme.read()
    for label, field, _app in LISTED:
        assert f"`{label.split('.')[1]}.{field}`" in text
