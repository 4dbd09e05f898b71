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

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from organizations.models import AuditEntry, Organization, record_audit


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
        about = list(about)
        if self.on_behalf:
            details.setdefault("recipient", getattr(self.client, "display_name", None))
            about.append(self.client)
        if self.kind == ActorKind.SYSTEM and self.job:
            details.setdefault("job", self.job)
        return record_audit(
            organization,
            self.member_user,
            action,
            target,
            api_key=self.api_key if self.kind == ActorKind.API_KEY else None,
            client=self.client if self.kind == ActorKind.CLIENT and not self.on_behalf else None,
            about=about,
            **details,
        )
