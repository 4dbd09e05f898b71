"""The audit log proves itself: a hash chain per organisation, verified by a command and a page."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django_scopes import scope, scopes_disabled

from organizations import integrity
from organizations.actors import Actor
from organizations.models import AuditChain, AuditEntry, AuditSubject
from profiles.actions import archive_profile, erase_profile, restore_profile
from tests import factories
from tests.conftest import need_service


def _log(org, owner, n: int = 5) -> list[AuditEntry]:
    """n entries about a contact, by a member: positions 1 to n."""
    person = factories.contact(org, first_name="Ada", last_name="Lovelace")
    actor = Actor.member(owner)
    with scope(organization=org):
        for i in range(n):
            (archive_profile if i % 2 == 0 else restore_profile)(person, actor=actor)
        return list(AuditEntry.objects.filter(organization=org).order_by("seq"))


def _problems(org) -> list[tuple[int | None, str]]:
    with scope(organization=org):
        report = integrity.verify(org)
    return [(problem.seq, problem.reason) for problem in report.problems]


def test_entries_take_consecutive_positions_and_verify(org, owner):
    entries = _log(org, owner)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert len({entry.entry_hash for entry in entries}) == 5
    with scope(organization=org):
        report = integrity.verify(org)
        assert AuditChain.objects.get(organization=org).head == entries[-1].entry_hash
    assert report.intact and report.entries == 5


def test_organisations_have_their_own_chains(org, other_org, owner, outsider):
    _log(org, owner, 2)
    [first] = _log(other_org, outsider, 1)
    assert first.seq == 1
    assert _problems(org) == [] and _problems(other_org) == []


def test_a_changed_object_is_found_at_its_position(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[2].pk).update(target="Someone else")
    assert _problems(org) == [(3, "The content of this entry was changed.")]


def test_changed_details_and_a_changed_action_are_found(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[1].pk).update(details={"reason": "made up"})
        AuditEntry.objects.filter(pk=entries[3].pk).update(action="profiles.field.created")
    assert [seq for seq, _reason in _problems(org)] == [2, 4]


def test_a_changed_member_is_found(org, owner, member):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[0].pk).update(user=member)
    assert _problems(org) == [(1, "The member of this entry was changed.")]


def test_a_removed_subject_is_found(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditSubject.objects.filter(entry=entries[4]).delete()
    assert _problems(org) == [(5, "The content of this entry was changed.")]


def test_a_deleted_entry_is_found_with_its_position(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[2].pk).delete()
    assert _problems(org) == [(3, "Entry 3 is missing.")]


def test_deleted_last_entries_are_found(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk__in=[entries[3].pk, entries[4].pk]).delete()
    assert _problems(org) == [(4, "The last entries, from 4 to 5, are missing.")]


def test_reordered_entries_are_found(org, owner):
    entries = _log(org, owner)
    second, third = entries[1], entries[2]
    with scopes_disabled(), transaction.atomic():
        AuditEntry.objects.filter(pk=second.pk).update(seq=None)
        AuditEntry.objects.filter(pk=third.pk).update(seq=2)
        AuditEntry.objects.filter(pk=second.pk).update(seq=3)
    # Both swapped entries, and the link from them to the next.
    assert [seq for seq, _reason in _problems(org)] == [2, 3, 4]


def test_moved_moments_are_found(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[0].pk).update(at=entries[4].at)
    assert _problems(org) == [(1, "This entry was changed or moved.")]


def test_a_rewritten_entry_sealed_again_breaks_the_next(org, owner):
    # Someone who recomputes one entry's digest and hash still breaks the following link.
    from organizations import auditchain

    entries = _log(org, owner)
    with scopes_disabled():
        forged = AuditEntry.objects.get(pk=entries[1].pk)
        forged.target = "Forged"
        subjects = [f"{s.kind}:{s.ref}" for s in forged.subjects.all()]
        forged.personal_digest = auditchain.personal_digest(forged, subjects)
        forged.entry_hash = auditchain.entry_hash(forged, entries[0].entry_hash)
        forged.save()
    assert _problems(org) == [(3, "This entry was changed or moved.")]


def test_an_erasure_blanks_the_entries_and_the_chain_still_verifies(org, owner):
    _log(org, owner, 3)
    eve = factories.contact(org, first_name="Eve", last_name="Erased")
    with scope(organization=org):
        archive_profile(eve, actor=Actor.member(owner))
        erase_profile(eve, actor=Actor.member(owner))
        blanked = AuditEntry.objects.get(seq=4)
        redaction = AuditEntry.objects.get(action="organizations.audit.redacted")
        report = integrity.verify(org)
        assert not blanked.subjects.exists()
    assert blanked.target == "—" and blanked.details == {} and blanked.salt == ""
    assert blanked.redacted_at is not None
    # The member who acted stays: evidence of who did what.
    assert blanked.user == owner and blanked.actor_name
    assert redaction.details["entries"] == "4"
    assert report.intact, report.problems


def test_a_changed_member_of_a_blanked_entry_is_found(org, owner, member):
    """Found by the second outside test: the member of an entry an erasure blanked could be
    changed unseen, and the log's pages read that column."""
    _log(org, owner, 3)
    eve = factories.contact(org, first_name="Eve", last_name="Erased")
    with scope(organization=org):
        archive_profile(eve, actor=Actor.member(owner))
        erase_profile(eve, actor=Actor.member(owner))
    with scopes_disabled():
        AuditEntry.objects.filter(seq=4, organization=org).update(user=member)
    assert _problems(org) == [(4, "The member of this entry was changed.")]


def test_blanking_an_entry_without_an_erasure_is_found(org, owner):
    entries = _log(org, owner)
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[1].pk).update(
            target="—", details={}, salt="", redacted_at=entries[1].at
        )
    assert _problems(org) == [(2, "This entry was blanked without an erasure.")]


def test_the_command_says_intact_or_names_the_position(org, owner):
    entries = _log(org, owner)
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    assert f"{org.slug}: intact, 5 entries." in out.getvalue()
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[3].pk).update(target="Changed")
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit_log", org.slug, stdout=out)
    assert raised.value.returncode == 1
    assert "position 4: The content of this entry was changed." in out.getvalue()


def test_the_command_refuses_an_unknown_organisation(org):
    with pytest.raises(CommandError, match="nope"):
        call_command("verify_audit_log", "nope", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("language", "intact", "broken"),
    [
        ("en", "The log is intact", "The log has been tampered with"),
        ("fr", "Le journal est intact", "Le journal a été altéré"),
    ],
)
def test_the_settings_page_says_intact_or_where_it_breaks(
    owner_client, org, owner, language, intact, broken
):
    entries = _log(org, owner)
    url = f"/o/{org.slug}/settings/audit/integrity/"
    owner_client.cookies["django_language"] = language
    page = owner_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200 and intact in page.text
    with scopes_disabled():
        AuditEntry.objects.filter(pk=entries[2].pk).delete()
    page = owner_client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert broken in page.text and 'data-seq="3"' in page.text


def test_the_integrity_page_is_for_admins(member_client, outsider_client, org):
    url = f"/o/{org.slug}/settings/audit/integrity/"
    assert member_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404


def test_older_entries_are_linked_exactly_and_sealed(org, owner):
    """The migration's rules: by identifier, or by a whole name one profile alone bears."""
    from importlib import import_module

    migration = import_module("dossiers.migrations.0014_audit_link_and_seal")
    gina = factories.contact(org, first_name="Gina", last_name="Gdpr")
    twin_a = factories.contact(org, first_name="Sam", last_name="Twin", email="a@example.com")
    factories.contact(org, first_name="Sam", last_name="Twin", email="b@example.com")
    e = factories.contact(org, first_name="", last_name="e", email="e@example.com")
    with scopes_disabled():
        AuditChain.objects.all().delete()
        AuditEntry.objects.all().delete()

        def legacy(action, target, **details):
            return AuditEntry.objects.create(
                organization=org,
                user=owner,
                actor="member",
                action=action,
                target=target,
                details=details,
            )

        by_name = legacy("profiles.profile.archived", "Gina Gdpr")
        by_value = legacy("monitoring.expiry.set", "Gina Gdpr — Passport")
        by_uuid = legacy("profiles.document.downloaded", "x.pdf", profile=str(twin_a.uuid))
        shared = legacy("profiles.profile.archived", "Sam Twin")
        longer = legacy("profiles.profile.archived", "Gina Gdpr and e")
        migration.link_and_seal(apps, None)
        subjects = {
            entry.pk: {s.ref for s in entry.subjects.all()} for entry in AuditEntry.objects.all()
        }
    assert subjects[by_name.pk] == {str(gina.uuid)}
    assert subjects[by_value.pk] == {str(gina.uuid)}
    assert subjects[by_uuid.pk] == {str(twin_a.uuid)}
    assert subjects[shared.pk] == set() and subjects[longer.pk] == set()
    assert str(e.uuid) not in set().union(*subjects.values())
    assert _problems(org) == []
    # New entries continue the sealed chain.
    with scope(organization=org):
        archive_profile(gina, actor=Actor.member(owner))
        assert AuditEntry.objects.order_by("-seq").first().seq == 6
    assert _problems(org) == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_do_not_fork_the_chain(org, owner):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    people = [factories.contact(org, email=f"p{i}@example.com") for i in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(person) -> None:
        try:
            barrier.wait()
            with scope(organization=org):
                for _ in range(25):
                    with transaction.atomic():
                        archive_profile(person, actor=Actor.member(owner))
                        # Widen the window between taking a position and committing.
                        time.sleep(0.002)
                        restore_profile(person, actor=Actor.member(owner))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(person,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with scopes_disabled():
        seqs = sorted(AuditEntry.objects.filter(organization=org).values_list("seq", flat=True))
    assert seqs == list(range(1, 101))
    assert _problems(org) == []


def test_verifying_reads_the_log_in_batches_whatever_its_length(
    org, owner, django_assert_num_queries
):
    # Unsealed entries, redaction records, one batch of entries and of their subjects, the
    # empty next batch, the head.
    _log(org, owner, 3)
    with scope(organization=org), django_assert_num_queries(6):
        assert integrity.verify(org).intact
    _log(org, owner, 30)
    with scope(organization=org), django_assert_num_queries(6):
        assert integrity.verify(org).entries == 33


def test_two_members_of_one_name_are_told_apart_in_the_log(org, owner, owner_client):
    """Found by the second outside test: an invitee who called themselves like an
    administrator read as them in the log and its person filter."""
    from django.contrib.auth import get_user_model

    from tests.conftest import make_member

    twin = make_member(org, "twin", "staff")
    for user in (owner, twin):
        get_user_model().objects.filter(pk=user.pk).update(first_name="Alice", last_name="Admin")
    person = factories.contact(org)
    with scope(organization=org):
        archive_profile(person, actor=Actor.member(twin))
    page = owner_client.get(f"/o/{org.slug}/settings/audit/").content.decode()
    assert "Alice Admin (twin)" in page and "Alice Admin (owner)" in page
