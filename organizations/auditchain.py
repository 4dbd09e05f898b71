"""The audit log's chain: each entry's hash covers the previous entry of its organisation.

An entry has two parts. The *public* part (its place in the chain, when, what action, what
kind of actor) is hashed as it is. The *personal* part (who by name, the object, the
details, the people it concerns) is hashed on its own with a random salt, and only that
digest enters the chain. Erasing a person blanks their entries' personal part and the salt
but keeps the digest: the chain still verifies, and the salt gone, nobody can test a
guessed name against the digest. Each redaction is itself named by a later, chained entry
(`organizations.audit.redacted`), so a blanked entry that no erasure accounts for shows.

The format is version 1, and migrations seal older entries with these same functions:
changing it means a version 2 beside it, never an edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

VERSION = 1
# The first entry of an organisation follows this.
GENESIS = "0" * 64


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def moment(at: dt.datetime) -> str:
    """A moment as hashed: UTC, to the microsecond, whatever the database returns it in."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# A client is a person whose erasure blanks their name where they acted; a member's, a key's
# or a job's name is evidence of who did what, and stays in the public part.
CLIENT = "client"


def personal_digest(entry: Any, subjects: Iterable[str]) -> str:
    """The salted digest of an entry's personal part (any object with the entry's fields)."""
    client = entry.actor == CLIENT
    return hashlib.sha256(
        entry.salt.encode()
        + _canonical(
            {
                "actor_name": entry.actor_name if client else "",
                "actor_ref": entry.actor_ref if client else "",
                "target": entry.target,
                "details": entry.details,
                "subjects": sorted(subjects),
            }
        )
    ).hexdigest()


def entry_hash(entry: Any, previous: str) -> str:
    """The hash of an entry's public part, its personal digest and the previous hash."""
    client = entry.actor == CLIENT
    return hashlib.sha256(
        _canonical(
            {
                "v": VERSION,
                "organization": entry.organization_id,
                "seq": entry.seq,
                "at": moment(entry.at),
                "action": entry.action,
                "actor": entry.actor,
                "actor_name": "" if client else entry.actor_name,
                "actor_ref": "" if client else entry.actor_ref,
                "personal": entry.personal_digest,
                "previous": previous,
            }
        )
    ).hexdigest()


def subject_key(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


def redacted_seqs(details: Mapping[str, Any]) -> set[int]:
    """The positions a redaction record names (`entries`: "12, 15, 40")."""
    found: set[int] = set()
    for part in str(details.get("entries") or "").split(","):
        if part.strip().isdigit():
            found.add(int(part))
    return found
