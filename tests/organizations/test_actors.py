"""The typed actor of actions: each kind is named as such in the audit log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django_scopes import scopes_disabled

from api.models import ApiKey
from organizations.actors import Actor
from organizations.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_kind_of_actor_is_recorded_as_itself(org, member) -> None:
    client = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scopes_disabled():
        key, _secret = ApiKey.issue(org, name="CRM sync", access=ApiKey.Access.WRITE)
        actors = [
            Actor.member(member),
            Actor.of_client(client),
            Actor.of_client(client, on_behalf_by=member),
            Actor.of_api_key(key),
            Actor.system("purge"),
        ]
        entries = [actor.audit(org, "organizations.settings.updated", org) for actor in actors]
        stored = [AuditEntry.objects.get(pk=entry.pk) for entry in entries]
    assert [(e.actor, e.user) for e in stored] == [
        ("member", member),
        ("client", None),
        ("member", member),
        ("api_key", None),
        ("system", None),
    ]
    assert stored[1].actor_name == "Ada Lovelace"
    assert stored[2].details["recipient"] == "Ada Lovelace"
    assert stored[3].actor_name == "CRM sync"
    assert stored[4].details["job"] == "purge"


def test_a_member_actor_is_a_signed_in_user() -> None:
    with pytest.raises(ValueError):
        Actor.member(AnonymousUser())
