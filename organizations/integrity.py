"""Whether an organisation's audit log is as it was written (organizations.auditchain).

Walks the chain in order and says where it breaks: an entry changed (its content or its
place), an entry missing, a blanked entry no erasure accounts for, entries missing at the
end. After a break the walk resumes from the stored hash, so each problem is named at its
own position rather than every entry after the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from organizations import auditchain
from organizations.models import AuditChain, AuditEntry, AuditSubject, Organization

BATCH = 1000
# A report lists this many problems at most; the count says how many there were.
SHOWN = 50


@dataclass(frozen=True)
class Problem:
    # The position in the organisation's log (1 for its first entry); None if unsealed.
    seq: int | None
    entry_id: int | None
    reason: str


@dataclass
class Report:
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    count: int = 0

    @property
    def intact(self) -> bool:
        return self.count == 0

    def add(self, seq: int | None, entry_id: int | None, reason: str) -> None:
        self.count += 1
        if len(self.problems) < SHOWN:
            self.problems.append(Problem(seq, entry_id, reason))


def _sealed(organization: Organization) -> Iterator[tuple[AuditEntry, list[str]]]:
    last = 0
    while True:
        batch = list(
            AuditEntry.objects.filter(organization=organization, seq__gt=last)
            .order_by("seq")
            .only(
                "organization_id",
                "seq",
                "at",
                "action",
                "actor",
                "actor_name",
                "actor_ref",
                "user_id",
                "target",
                "details",
                "salt",
                "personal_digest",
                "entry_hash",
                "redacted_at",
            )[:BATCH]
        )
        if not batch:
            return
        subjects: dict[int, list[str]] = {}
        for entry_id, kind, ref in AuditSubject.objects.filter(
            entry_id__in=[entry.pk for entry in batch]
        ).values_list("entry_id", "kind", "ref"):
            subjects.setdefault(entry_id, []).append(auditchain.subject_key(kind, ref))
        for entry in batch:
            yield entry, subjects.get(entry.pk, [])
        last = batch[-1].seq or last


def _member_moved(entry: AuditEntry) -> bool:
    """The member column, which the pages read, no longer names the member the chain does."""
    return entry.actor == AuditEntry.Actor.MEMBER and (
        entry.user_id is not None and str(entry.user_id) != entry.actor_ref
    )


def verify(organization: Organization) -> Report:
    """Checks the organisation's chain from its first entry to its head. Runs in the
    organisation's scope."""
    report = Report()
    for entry_id in AuditEntry.objects.filter(
        organization=organization, seq__isnull=True
    ).values_list("pk", flat=True):
        report.add(None, entry_id, _("This entry is outside the chain."))
    redactions: set[int] = set()
    for details in AuditEntry.objects.filter(
        organization=organization, action="organizations.audit.redacted"
    ).values_list("details", flat=True):
        if isinstance(details, dict):
            redactions |= auditchain.redacted_seqs(details)
    previous, expected = auditchain.GENESIS, 1
    for entry, subjects in _sealed(organization):
        report.entries += 1
        seq = entry.seq or 0
        if seq > expected:
            report.add(
                expected,
                None,
                _("Entry %(first)s is missing.") % {"first": expected}
                if seq == expected + 1
                else _("Entries %(first)s to %(last)s are missing.")
                % {"first": expected, "last": seq - 1},
            )
        elif entry.redacted_at is None:
            if auditchain.personal_digest(entry, subjects) != entry.personal_digest:
                report.add(seq, entry.pk, _("The content of this entry was changed."))
            elif _member_moved(entry):
                report.add(seq, entry.pk, _("The member of this entry was changed."))
            elif auditchain.entry_hash(entry, previous) != entry.entry_hash:
                report.add(seq, entry.pk, _("This entry was changed or moved."))
        elif seq not in redactions:
            report.add(seq, entry.pk, _("This entry was blanked without an erasure."))
        elif _member_moved(entry):
            # The member stays in a blanked entry (evidence of who acted): checked as in any.
            report.add(seq, entry.pk, _("The member of this entry was changed."))
        elif auditchain.entry_hash(entry, previous) != entry.entry_hash:
            report.add(seq, entry.pk, _("This entry was changed or moved."))
        previous, expected = entry.entry_hash, seq + 1
    head = AuditChain.objects.filter(organization=organization).first()
    if head is not None and (head.seq != expected - 1 or head.head != previous):
        if head.seq >= expected:
            report.add(
                expected,
                None,
                _("The last entries, from %(first)s to %(last)s, are missing.")
                % {"first": expected, "last": head.seq},
            )
        else:
            report.add(expected - 1, None, _("The end of the log does not match its head."))
    return report


def head(organization: Organization) -> AuditChain | None:
    """The chain's last position and hash, to note elsewhere and compare later."""
    return AuditChain.objects.filter(organization=organization).first()
