"""`day`, `moment` and `number`: dates and numbers in the organisation's style."""

from __future__ import annotations

from django import template

from organizations import display

register = template.Library()
register.filter("day", display.day)
register.filter("moment", display.moment)
register.filter("number", display.number)
