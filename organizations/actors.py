"""Who does a thing: the one typed actor every action takes (DESIGN.md, "One action per verb").

A change is made by a member of staff, by a client through their link (or a member filling
the client's page on their behalf), by an API key, or by the system (a task, a command).
Actions take an `Actor` as a keyword-only argument, and it says how the audit entry and the
history row name who did it; no view or serializer records an audit entry itself.

The actor lives in the leftmost domain app so that every app may take one: it holds the
client's profile and the API key as the objects the apps to the right give it, and reads only
their `uuid`, `pk` and display name, importing neither.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from organizations.models import AuditEntry, Organization, record_audits

# The actor whose write is under way, for the consequences a signal draws from it (a link
# revoked because its recipient's e-mail changed is revoked by whoever changed it).
_ACTING: ContextVar[Actor | None] = ContextVar("acting", default=None)


class ActorKind(StrEnum):
    MEMBER = "member"
    CLIENT = "client"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class Actor:
    kind: ActorKind
    # The member; for a client's page filled on their behalf, the member who filled it.
    user: Any = None
    # The recipient's profile (profiles.Profile), for a client.
    client: Any = None
    # The key (api.ApiKey), for the API.
    api_key: Any = None
    # For the system: which job acted (a task's or a command's name), said in the log.
    job: str = ""
    # For a command run on the server: the operating-system account that ran it.
    operator: str = ""

    @classmethod
    def member(cls, user: Any) -> Actor:
        if not getattr(user, "is_authenticated", False):
            raise ValueError("a member actor is a signed-in user")
        return cls(kind=ActorKind.MEMBER, user=user)

    @classmethod
    def of_client(cls, profile: Any, *, on_behalf_by: Any = None) -> Actor:
        return cls(kind=ActorKind.CLIENT, client=profile, user=on_behalf_by)

    @classmethod
    def of_api_key(cls, key: Any) -> Actor:
        return cls(kind=ActorKind.API_KEY, api_key=key)

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(kind=ActorKind.SYSTEM, job=job)

    @classmethod
    def command(cls, job: str) -> Actor:
        """A management command, run by someone on the server: the log names the command
        and the server account that ran it, the closest the server knows of who."""
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):
            # A container user with no name in /etc/passwd.
            operator = str(os.getuid()) if hasattr(os, "getuid") else ""
        return cls(kind=ActorKind.SYSTEM, job=job, operator=operator)

    @contextmanager
    def acting(self) -> Iterator[Actor]:
        """Marks the writes inside as this actor's, for `current_actor`."""
        token = _ACTING.set(self)
        try:
            yield self
        finally:
            _ACTING.reset(token)

    @property
    def on_behalf(self) -> bool:
        """A member typed a client's answers for them: the member answers for it."""
        return self.kind == ActorKind.CLIENT and self.user is not None

    @property
    def member_user(self) -> Any:
        """The member who acted, themselves or on a client's behalf; None otherwise."""
        return self.user if self.kind in (ActorKind.MEMBER, ActorKind.CLIENT) else None

    def audit(
        self,
        organization: Organization,
        action: str,
        target: object,
        *,
        about: Iterable[object] = (),
        **details: object,
    ) -> AuditEntry:
        """Records the entry of an action this actor performed. Called by actions only.

        `about` names the profiles, dossiers and accounts the action concerns besides its
        target (when that is one): a person's export and erasure find the entry by them."""
        return self.audit_many(organization, action, [(target, about, details)])[0]

    def audit_many(
        self,
        organization: Organization,
        action: str,
        entries: Sequence[tuple[object, Iterable[object], dict[str, object]]],
    ) -> list[AuditEntry]:
        """`audit` of many entries of one action at once, each (target, about, details): a
        set-based writer's entries in a few statements, whatever their number."""
        prepared: list[tuple[object, Iterable[object], dict[str, object]]] = []
        for target, about, entry_details in entries:
            about, details = list(about), dict(entry_details)
            if self.on_behalf:
                details.setdefault("recipient", getattr(self.client, "display_name", None))
                about.append(self.client)
            if self.kind == ActorKind.SYSTEM and self.job:
                details.setdefault("job", self.job)
            if self.kind == ActorKind.SYSTEM and self.operator:
                details.setdefault("operator", self.operator)
            prepared.append((target, about, details))
        return record_audits(
            organization,
            self.member_user,
            action,
            prepared,
            api_key=self.api_key if self.kind == ActorKind.API_KEY else None,
            client=self.client if self.kind == ActorKind.CLIENT and not self.on_behalf else None,
        )


def current_actor(default: Actor) -> Actor:
    """The actor of the write under way (`Actor.acting`), else `default`."""
    return _ACTING.get() or default
