from __future__ import annotations

from django_scopes import scopes_disabled

from dossiers.itemrows import write_items
from dossiers.models import DossierItem
from tests import factories


def _items(org, n=2):
    fields = [factories.field(org, "text") for _ in range(n)]
    dossier = factories.dossier(org, factories.contact(org), fields)
    with scopes_disabled():
        return list(DossierItem.objects.filter(dossier=dossier).order_by("pk"))


def test_it_writes_the_named_columns_of_each_item_as_in_memory(org):
    first, second = _items(org)
    person = factories.contact(org)
    first.answer, first.answered, first.answered_by = {"a": [1, "é"]}, True, person
    first.upload, first.upload_size = "uploads/x.pdf", 12
    second.answer, second.answered, second.answered_via = None, False, "b@example.com"
    second.confirmed = True  # not named: left as stored
    write_items(
        [first, second],
        ["answer", "answered", "answered_by", "answered_via", "upload", "upload_size"],
    )
    with scopes_disabled():
        first.refresh_from_db()
        second.refresh_from_db()
    assert (first.answer, first.answered, first.answered_by_id) == (
        {"a": [1, "é"]},
        True,
        person.pk,
    )
    assert (first.upload.name, first.upload_size) == ("uploads/x.pdf", 12)
    assert (second.answer, second.answered, second.answered_via) == (None, False, "b@example.com")
    assert second.confirmed is False


def test_it_writes_nothing_of_another_organisation(org, other_org):
    [mine] = _items(org, 1)
    [theirs] = _items(other_org, 1)
    theirs.organization_id = org.pk  # as a caller mixing tenants would hand it
    theirs.answer, mine.answer = "changed", "mine"
    write_items([mine, theirs], ["answer"])
    with scopes_disabled():
        theirs.refresh_from_db()
        mine.refresh_from_db()
    assert (mine.answer, theirs.answer) == ("mine", None)
