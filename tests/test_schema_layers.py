"""The schema follows the layers (README, "The schema follows the layers"): a table points
to an app on its right only where the README lists it, with why."""

from __future__ import annotations

import re
from pathlib import Path

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


# What dossiers may still read of the group that asked: who it is, and its texts (the
# request's title and message in the reader's language). Everything else it decides
# reaches the dossier as data (`dossiers.models.RequestPolicy`).
GROUP_READS_ALLOWED = {"id", "pk", "uuid", "title", "message", "translations", "organization"}
GROUP_READS_ALLOWED |= {"local_title", "local_message"}


def _group_read() -> re.Pattern[str]:
    """A read of anything else of the group: through the foreign key (`dossier.update_group.x`,
    a lookup `update_group__x`), or through a variable holding the group (`group.x`)."""
    group = apps.get_model("monitoring", "UpdateGroup")
    names = {field.name for field in group._meta.get_fields()}
    names |= {name for name in vars(group) if not name.startswith("_")}
    alternatives = "|".join(sorted(names - GROUP_READS_ALLOWED, key=len, reverse=True))
    return re.compile(rf"\b(?:update_group|group)(?:\.|__)(?:{alternatives})\b")


def test_dossiers_read_no_policy_of_a_group():
    read = _group_read()
    sources = [p for p in Path("dossiers").rglob("*.py") if "migrations" not in p.parts]
    sources += [*Path("templates/dossiers").rglob("*"), *Path("templates/portal").rglob("*")]
    found = [
        f"{path}:{number}: {line.strip()}"
        for path in sources
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if read.search(line)
    ]
    assert found == []


def test_the_scan_finds_a_policy_read():
    read = _group_read()
    assert read.search("return dossier.update_group.review_required")
    assert read.search("tuple(group.remind_after or ())")
    assert read.search("filter(update_group__is_active=True)")
    assert not read.search("dossier.update_group.local_title")
    assert not read.search('UUIDFilter(field_name="update_group__uuid")')
