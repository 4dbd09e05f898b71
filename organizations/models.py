from __future__ import annotations

import functools
import hashlib
import json
import secrets
import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from django_scopes import ScopedManager

from organizations import auditchain


def time_zone_choices() -> list[tuple[str, str]]:
    return list(_time_zones())


@functools.cache
def _time_zones() -> tuple[tuple[str, str], ...]:
    # available_timezones() walks the tz database on disk: once per process, not per view.
    return tuple((name, name) for name in sorted(zoneinfo.available_timezones()))


class Organization(models.Model):
    """The tenant: every row of client data belongs to exactly one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=time_zone_choices
    )
    date_style = models.CharField(
        _("date style"),
        max_length=4,
        choices=[
            ("dmy", _("31/01/2027 (day first)")),
            ("iso", _("2027-01-31 (ISO)")),
            ("mdy", _("01/31/2027 (month first)")),
        ],
        default="dmy",
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    require_two_factor = models.BooleanField(
        _("require a second factor"),
        default=False,
        help_text=_(
            "Members must log in with a code from an authenticator app as well as their password."
        ),
    )
    # Where a client's answer to an e-mail goes (its Reply-To): the sender address is one
    # nobody reads.
    contact_email = models.EmailField(
        _("contact address"),
        max_length=254,
        blank=True,
        help_text=_(
            "Clients who answer an e-mail write to this address. Leave it empty and their "
            "answers go nowhere."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        STAFF = "staff", _("Staff")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)

    class Notices(models.TextChoices):
        EACH = "each", _("Every submission")
        DIGEST = "digest", _("A daily digest")
        NONE = "none", _("None")

    # Empty: the role's default (a digest for administrators, nothing for staff).
    notices = models.CharField(
        _("e-mail notices"), max_length=10, choices=Notices.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def effective_notices(self) -> str:
        if self.notices:
            return self.notices
        return self.Notices.DIGEST if self.is_admin else self.Notices.NONE


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An e-mailed offer to join an organisation; a membership exists only once accepted.

    The person accepts while logged in to their own account, or creates one: an admin never
    attaches an existing account, and learns nothing about it.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("e-mail"), max_length=150)
    role = models.CharField(
        _("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.STAFF
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} @ {self.organization_id}"


class InvitationMessage(models.Model):
    """The e-mail of an invitation: the outbox knows messages only, this table says which
    invitation each one carries. Cancelling or replacing an invitation deletes its messages
    first (`organizations.actions`), since the message row names no invitation to cascade
    from."""

    message = models.OneToOneField(
        "outbox.Message",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="invitation_link",
    )
    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, related_name="message_links"
    )

    class Meta:
        verbose_name = _("message of an invitation")
        verbose_name_plural = _("messages of invitations")

    def __str__(self) -> str:
        return f"{self.message_id} of {self.invitation_id}"


def member_label(user: Any) -> str:
    """A member as the audit log names them: their name with their user name, which is unique
    (two members may give themselves the same name; the log must tell them apart)."""
    name, username = user.get_full_name(), user.get_username()
    return f"{name} ({username})" if name and name != username else username


class AuditEntry(models.Model):
    """Who did what, when, in the organisation: shown to admins in the audit log."""

    class Actor(models.TextChoices):
        MEMBER = "member", _("Member")
        API_KEY = "api_key", _("API key")
        CLIENT = "client", _("Client")
        SYSTEM = "system", _("System")

    # Indexed first in each of the log's indexes (Meta.indexes): no index of its own.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_entries", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(_("actor"), max_length=10, choices=Actor.choices, default=Actor.SYSTEM)
    # The actor as named when they acted (a key's or a client's name, a member's name),
    # so that the entry still says who once the key, the client or the account is gone.
    actor_name = models.CharField(_("actor's name"), max_length=300, blank=True)
    # What identifies a client or a key for good (its UUID): a client's erasure finds here
    # the entries they made, as a name alone cannot.
    actor_ref = models.CharField(max_length=64, blank=True, db_index=True)
    # A namespaced string declared by the app that logs it (organizations.audit).
    action = models.CharField(_("action"), max_length=80)
    target = models.CharField(_("object"), max_length=300)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Set when the entry is written, and hashed: never changed after.
    at = models.DateTimeField(_("when"), default=timezone.now)
    # The chain (organizations.auditchain): the entry's position in its organisation's log,
    # the digest of its personal part (salted, the salt erased with that part), and its
    # hash, which covers the previous entry's.
    seq = models.PositiveBigIntegerField(null=True)
    salt = models.CharField(max_length=32, blank=True)
    personal_digest = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)
    # The personal part was blanked by an erasure (a later entry names it).
    redacted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "seq"], name="one_audit_entry_per_seq")
        ]
        # The log page's order (newest first, then id), under each filter it offers: a page
        # reads its fifty rows from the index whatever the size of the log (keyset pages,
        # organizations.keyset). They replace the single columns' indexes, which no query of
        # one organisation could use without sorting all its matching entries.
        indexes = [
            models.Index(fields=["organization", "at", "id"], name="audit_org_at"),
            models.Index(fields=["organization", "action", "at", "id"], name="audit_org_action_at"),
            models.Index(fields=["organization", "actor", "at", "id"], name="audit_org_actor_at"),
            models.Index(fields=["organization", "user", "at", "id"], name="audit_org_user_at"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"

    @property
    def action_label(self) -> str:
        from organizations.audit import label_for

        return label_for(self.action)

    @property
    def who(self) -> str:
        """The actor as people read them: a member's name, an API key, a client, the system."""
        if self.actor == self.Actor.MEMBER:
            if self.user is not None:
                return member_label(self.user)
            return self.actor_name or str(_("A former member"))
        if self.actor == self.Actor.API_KEY:
            return str(pgettext("audit actor", "API key “%(name)s”") % {"name": self.actor_name})
        if self.actor == self.Actor.CLIENT:
            return str(_("Client: %(name)s") % {"name": self.actor_name or "—"})
        return str(_("System"))

    @property
    def description(self) -> str:
        """The details as a sentence in the reader's language (organizations.audit.describe)."""
        from organizations.audit import describe

        return describe(self.action, self.details)


class AuditSubject(models.Model):
    """A person or a dossier an audit entry concerns, by reference: what a person's export
    and erasure find, never by the entry's text. Part of the entry's personal part."""

    class Kind(models.TextChoices):
        PROFILE = "profile", _("Profile")
        DOSSIER = "dossier", _("Dossier")
        MEMBER = "member", _("Member")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(AuditEntry, on_delete=models.CASCADE, related_name="subjects")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # A profile's or a dossier's UUID, a member's user id.
    ref = models.CharField(max_length=64)

    objects = ScopedManager(organization="organization")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "kind", "ref"], name="one_subject_per_entry")
        ]
        indexes = [models.Index(fields=["organization", "kind", "ref"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


class AuditChain(models.Model):
    """The head of an organisation's audit chain. Writers lock this row, so two entries of
    one organisation never claim the same position, whatever runs at once."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0)
    head = models.CharField(max_length=64, default="0" * 64)

    objects = ScopedManager(organization="organization")

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.seq}"


def audit_subjects(value: object) -> list[tuple[str, str]]:
    """The (kind, reference) pairs an object stands for in the log: what offers
    `audit_subjects()` (a profile, a dossier), or a member's account."""
    if isinstance(value, User):
        return [(AuditSubject.Kind.MEMBER, str(value.pk))] if value.pk else []
    method = getattr(value, "audit_subjects", None)
    if callable(method):
        return [(str(kind), str(ref)) for kind, ref in method()]
    return []


def _lock_chain(organization: Organization) -> AuditChain:
    locked = AuditChain.objects.select_for_update().filter(organization=organization).first()
    if locked is None:
        # The organisation's first entry: of two writers creating the head, one inserts it
        # and both then wait on its lock.
        AuditChain.objects.bulk_create(
            [AuditChain(organization=organization)], ignore_conflicts=True
        )
        locked = AuditChain.objects.select_for_update().get(organization=organization)
    return locked


def record_audit(
    organization: Organization,
    user: object,
    action: str,
    target: object,
    *,
    api_key: object = None,
    client: object = None,
    about: Iterable[object] = (),
    **details: object,
) -> AuditEntry:
    """Records an action; its actor is `user` (a member), else `api_key` (a key, or its name),
    else `client` (the recipient's profile), else the system. The entry concerns `target`
    and the objects `about` (profiles, dossiers, accounts), recorded as its subjects, and the
    client who acted; it takes the next position in its organisation's chain."""
    return record_audits(
        organization, user, action, [(target, about, details)], api_key=api_key, client=client
    )[0]


def record_audits(
    organization: Organization,
    user: object,
    action: str,
    entries: Sequence[tuple[object, Iterable[object], dict[str, object]]],
    *,
    api_key: object = None,
    client: object = None,
) -> list[AuditEntry]:
    """`record_audit` of many entries of one action and actor, each (target, about, details),
    in a constant number of statements: the chain is locked once and the entries take the
    next positions in their order, hashed as one by one."""
    actor, name, ref = AuditEntry.Actor.SYSTEM, "", ""
    member: User | None = None
    actor_subjects: set[tuple[str, str]] = set()
    extra: dict[str, object] = {}
    if isinstance(user, User) and user.is_authenticated:
        actor, member = AuditEntry.Actor.MEMBER, user
        name = user.get_full_name() or user.get_username()
        # The account for good, hashed: the user column empties if the account is deleted.
        ref = str(user.pk)
    elif api_key is not None:
        actor = AuditEntry.Actor.API_KEY
        name = str(getattr(api_key, "name", api_key))
        ref = str(getattr(api_key, "uuid", ""))
        # Readers of the details (the CSV's JSON column, the API's tests) find the key there.
        extra["api_key"] = name
    elif client is not None:
        actor = AuditEntry.Actor.CLIENT
        name = str(getattr(client, "display_name", client))
        ref = str(getattr(client, "uuid", ""))
        actor_subjects.update(audit_subjects(client))
    at = timezone.now()
    built: list[tuple[AuditEntry, set[tuple[str, str]]]] = []
    for target, about, details in entries:
        subjects = set(actor_subjects)
        for concerned in (target, *about):
            subjects.update(audit_subjects(concerned))
        entry = AuditEntry(
            organization=organization,
            user=member,
            actor=actor,
            actor_name=name[:300],
            actor_ref=ref,
            action=action,
            target=str(target)[:300],
            details={key: _detail(value) for key, value in {**details, **extra}.items()},
            at=at,
            salt=secrets.token_hex(16),
        )
        entry.personal_digest = auditchain.personal_digest(
            entry, [auditchain.subject_key(kind, ref) for kind, ref in subjects]
        )
        built.append((entry, subjects))
    if not built:
        return []
    # No savepoint: a failure here fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        # Held until the caller's transaction ends: the organisation's writers of the log
        # take turns from here (the cost is measured in the README).
        chain = _lock_chain(organization)
        seq, head = chain.seq, chain.head
        for entry, _subjects in built:
            seq += 1
            entry.seq = seq
            entry.entry_hash = head = auditchain.entry_hash(entry, head)
        if connection.vendor == "postgresql":
            saved = _insert_entries(organization, built)
        else:
            saved = AuditEntry.objects.bulk_create([entry for entry, _subjects in built])
            rows = [
                AuditSubject(organization=organization, entry=entry, kind=kind, ref=ref)
                for entry, (_entry, subjects) in zip(saved, built, strict=True)
                for kind, ref in sorted(subjects)
            ]
            if rows:
                AuditSubject.objects.bulk_create(rows)
        AuditChain.objects.filter(pk=chain.pk).update(seq=seq, head=head)
    return saved


def _insert_entries(
    organization: Organization, built: list[tuple[AuditEntry, set[tuple[str, str]]]]
) -> list[AuditEntry]:
    """The entries and their subjects in two statements from arrays: a batch's thousand
    entries cost the ORM's bulk_create more in Python (an object, and a placeholder per
    column and row) than the database spends writing them. The entries are the ones hashed,
    unchanged; each learns its id."""
    first = built[0][0]
    entries = [entry for entry, _subjects in built]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {AuditEntry._meta.db_table} (organization_id, user_id, actor,
                    actor_name, actor_ref, action, target, details, at, seq, salt,
                    personal_digest, entry_hash)
                SELECT %s, %s, %s, %s, %s, %s, e.target, e.details::jsonb, %s, e.seq, e.salt,
                       e.personal_digest, e.entry_hash
                FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[],
                            %s::text[]) AS e (target, details, seq, salt, personal_digest,
                                              entry_hash)
                RETURNING id, seq""",  # noqa: S608 - names from the model
            [
                organization.pk,
                first.user_id,
                first.actor,
                first.actor_name,
                first.actor_ref,
                first.action,
                first.at,
                [entry.target for entry in entries],
                [json.dumps(entry.details) for entry in entries],
                [entry.seq for entry in entries],
                [entry.salt for entry in entries],
                [entry.personal_digest for entry in entries],
                [entry.entry_hash for entry in entries],
            ],
        )
        ids = dict((seq, pk) for pk, seq in cursor.fetchall())
        subjects: list[tuple[int, str, str]] = []
        for entry, entry_subjects in built:
            entry.pk = ids[entry.seq]
            entry._state.adding = False
            entry._state.db = connection.alias
            subjects += [(entry.pk, kind, ref) for kind, ref in sorted(entry_subjects)]
        if subjects:
            cursor.execute(
                f"""INSERT INTO {AuditSubject._meta.db_table} (organization_id, entry_id, kind,
                        ref)
                    SELECT %s, s.entry_id, s.kind, s.ref
                    FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS s (entry_id, kind, ref)
                """,  # noqa: S608 - names from the model
                [organization.pk, *(list(column) for column in zip(*subjects, strict=True))],
            )
    return entries


def _detail(value: object) -> object:
    # Stored as text, as entries always were (readers compare "1", not 1); a list stays a
    # list of texts, which the log can spell out, rather than Python's repr of it.
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return str(value)


def audit(request: Any, action: str, target: object, **details: Any) -> AuditEntry:
    """Records a change made by the user of a back-office request, in its organisation."""
    return record_audit(request.organization, request.user, action, target, **details)


class SsoProvider(models.Model):
    """The organisation's OpenID Connect provider (organizations.sso): its members may sign
    in through it, and the organisation may require them to."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="sso_provider"
    )
    discovery_url = models.URLField(
        _("discovery URL"),
        max_length=500,
        help_text=_("The provider's address ending in /.well-known/openid-configuration."),
    )
    client_id = models.CharField(_("client ID"), max_length=255)
    # Encrypted with a key derived from SECRET_KEY (organizations.sso.seal); never shown again.
    client_secret_sealed = models.TextField()
    enforces_second_factor = models.BooleanField(
        _("the provider enforces a second factor"),
        default=False,
        help_text=_(
            "A sign-in through the provider then counts as the organisation's second factor."
        ),
    )
    require_sso = models.BooleanField(
        _("require single sign-on for members"),
        default=False,
        help_text=_("Members reach the organisation only after signing in through the provider."),
    )
    # The discovery document as read when the provider was saved: its issuer, endpoints and
    # key set address. Saving again reads it anew.
    metadata = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("single sign-on provider")
        verbose_name_plural = _("single sign-on providers")

    def __str__(self) -> str:
        return str(self.metadata.get("issuer") or self.discovery_url)
