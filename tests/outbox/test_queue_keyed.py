from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from outbox.mail import queue, queue_keyed
from outbox.models import Message


def _message(org, key: str) -> Message:
    return Message(organization=org, key=key, kind="dossiers.confirmation", address="a@x.org")


def test_queued_messages_come_back_with_their_ids_from_the_insert_alone(org):
    with CaptureQueriesContext(connection) as queries:
        ids = queue_keyed([_message(org, "k:1"), _message(org, "k:2")])
    with scopes_disabled():
        stored = dict(Message.objects.values_list("key", "id"))
    assert ids == stored and set(ids) == {"k:1", "k:2"}
    assert len(queries) == 1


def test_a_key_there_already_keeps_its_message_and_its_id(org):
    queue([_message(org, "old")])
    with scopes_disabled():
        old = Message.objects.get(key="old")
        Message.objects.filter(pk=old.pk).update(status=Message.Status.SENT)
    alone = queue_keyed([_message(org, "old")])
    both = queue_keyed([_message(org, "old"), _message(org, "new")])
    with scopes_disabled():
        stored = dict(Message.objects.values_list("key", "id"))
        assert Message.objects.get(key="old").status == Message.Status.SENT
    assert alone == {"old": old.pk}
    assert both == stored and set(stored) == {"old", "new"}
