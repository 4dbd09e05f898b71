"""A person's export and erasure find the audit entries about them by reference (M2, M3)."""

from __future__ import annotations

from django_scopes import scope

from dossiers.actions import resend_link
from organizations import integrity
from organizations.actors import Actor
from organizations.models import AuditEntry
from organizations.privacy import entries_about, records
from profiles.actions import archive_profile, erase_profile, update_profile
from tests import factories


def test_an_entry_naming_the_person_inside_a_longer_text_is_exported_and_erased(org, owner):
    gina = factories.contact(org, first_name="Gina", last_name="Gdpr", email="gina@example.com")
    dossier = factories.dossier(
        org, gina, [factories.field(org)], title="Proof of address and identity"
    )
    staff = Actor.member(owner)
    with scope(organization=org):
        resend_link(dossier, actor=staff)
        # As review decisions record it: the dossier, "title — person", is the object.
        staff.audit(org, "dossiers.dossier.approved", dossier, dossier=dossier.uuid)
        exported = {entry["object"] for entry in records(gina)["audit_entries"]}
        assert exported == {
            "Proof of address and identity",
            "Proof of address and identity — Gina Gdpr",
        }
        erase_profile(gina, actor=staff)
        left = list(AuditEntry.objects.values_list("target", "details"))
    assert "Gina" not in str(left) and "Proof of address" not in str(left)


def test_erasing_a_person_named_e_blanks_only_their_entries(org, owner, member):
    """An admin erasing a contact called "e" must not blank the log of everyone else."""
    staff = Actor.member(owner)
    others = [
        factories.contact(org, first_name=first, last_name=last, email=f"{first}@example.com")
        for first, last in [("Peter", "Green"), ("Eve", "Best"), ("Rene", "Lee")]
    ]
    e = factories.contact(org, first_name="", last_name="e", email="e@example.com")
    with scope(organization=org):
        for person in others:
            update_profile(person, actor=staff, identity={"email": f"new.{person.email}"})
            archive_profile(person, actor=staff)
        archive_profile(e, actor=staff)
        before = {entry.pk: (entry.target, entry.details) for entry in AuditEntry.objects.all()}
        assert list(entries_about(e).values_list("target", flat=True)) == ["e"]
        erase_profile(e, actor=staff)
        after = {entry.pk: (entry.target, entry.details) for entry in AuditEntry.objects.all()}
        assert integrity.verify(org).intact
    changed = [pk for pk in before if after[pk] != before[pk]]
    assert len(changed) == 1 and after[changed[0]] == ("—", {})


def test_a_client_acting_is_found_by_reference_not_by_name(org):
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    namesake = factories.contact(org, first_name="Ada", last_name="Lovelace", email="b@example.com")
    with scope(organization=org):
        Actor.of_client(ada).audit(org, "dossiers.dossier.submitted", "Annual review")
        assert entries_about(ada).count() == 1
        assert entries_about(namesake).count() == 0


def test_another_organisations_entries_are_never_found(org, other_org, owner, outsider):
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    twin = factories.contact(other_org, first_name="Ada", last_name="Lovelace")
    with scope(organization=other_org):
        archive_profile(twin, actor=Actor.member(outsider))
    with scope(organization=org):
        assert entries_about(ada).count() == 0
