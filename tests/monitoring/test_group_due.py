"""A group's calendar lives in its `GroupDue` row, which the dispatcher moves under a lock of
that row alone: saving the group writes the row back only when the group moved it."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from monitoring.models import GroupDue, UpdateGroup
from tests import factories

pytestmark = pytest.mark.django_db

LATER = dt.datetime(2031, 3, 31, 6, tzinfo=dt.UTC)


def test_an_edit_read_before_a_pass_does_not_put_the_group_back(org):
    group = factories.group(org)
    with scopes_disabled():
        edited = UpdateGroup.objects.select_related("due").get(pk=group.pk)
        assert edited.next_run_at < LATER
        # A dispatcher's pass moves the row between the form's read and its save.
        GroupDue.objects.filter(pk=group.pk).update(next_index=7, next_run_at=LATER)
        edited.title = "KYC, renamed"
        edited.is_active = False
        edited.save()
        due = GroupDue.objects.get(pk=group.pk)
    assert (due.next_index, due.next_run_at, due.dispatched) == (7, LATER, False)


def test_a_group_that_moves_its_calendar_writes_it(org):
    group = factories.group(org)
    with scopes_disabled():
        edited = UpdateGroup.objects.get(pk=group.pk)
        edited.next_index, edited.next_run_at = 3, LATER
        edited.save()
        again = UpdateGroup.objects.get(pk=group.pk)
        assert (again.next_index, again.next_run_at) == (3, LATER)
        # Saved once, the calendar is no longer "moved": the next plain save leaves it.
        GroupDue.objects.filter(pk=group.pk).update(next_index=4)
        edited.save()
        assert GroupDue.objects.get(pk=group.pk).next_index == 4
