"""The audit actions of update groups and expiry dates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from organizations.audit import (
    action,
    count,
    humanised,
    is_uuid,
    joined,
    key_label,
    pair,
    plain,
    relabel,
)
from profiles.conditions import OPERATORS


def _group_saved(details: Mapping[str, Any]) -> str:
    text = gettext("Fields: %(fields)s; %(frequency)s, from %(start)s") % {
        "fields": details.get("fields") or "—",
        "frequency": relabel(details.get("frequency")),
        "start": plain(details.get("start")),
    }
    if details.get("triggers"):
        text += gettext("; triggered by %(fields)s, at most %(limit)s a day") % {
            "fields": plain(details["triggers"]),
            "limit": plain(details.get("daily_limit")),
        }
    try:
        conditions = json.loads(details.get("audience") or "[]")
    except (TypeError, ValueError):
        conditions = []
    if isinstance(conditions, list) and conditions:
        text += "; " + gettext("audience: %(conditions)s") % {
            "conditions": "; ".join(
                f"{plain(c.get('field'))} {OPERATORS.get(str(c.get('op')), '?')} "
                f"{plain(c.get('value'))}"
                for c in conditions
                if isinstance(c, dict)
            )
        }
    if details.get("spread_days"):
        text += "; " + gettext("spread over %(n)s working days") % {
            "n": plain(details["spread_days"])
        }
    return text


def _period(details: Mapping[str, Any]) -> str:
    return gettext("Period of %(period)s") % {"period": plain(details["period"])}


def _expiry(details: Mapping[str, Any]) -> str:
    return gettext("%(before)s → %(after)s") % {
        "before": plain(details["before"]) if details.get("before") else gettext("none"),
        "after": plain(details["after"]) if details.get("after") else gettext("none"),
    }


def _reminded(details: Mapping[str, Any]) -> str:
    dossiers = count(details["dossiers"])
    if dossiers is None:
        return humanised(details)
    return ngettext(
        "%(count)s client reminded, period of %(period)s",
        "%(count)s clients reminded, period of %(period)s",
        dossiers,
    ) % {"count": dossiers, "period": plain(details.get("period"))}


# The compliance overview's filters, as its URL names them.
_OVERVIEW_FILTERS = {
    "status": _("Status"),
    "q": _("Search"),
    "group": _("Group"),
    "company": _("Company"),
    "profile": _("Profile"),
    "kind": _("Type"),
}


def _filter_value(key: str, value: str) -> str:
    from monitoring.views import STATUS_LABELS
    from profiles.models import Kind

    if is_uuid(value):
        return gettext("one chosen")
    known = {"status": dict(STATUS_LABELS), "kind": dict(Kind.choices)}.get(key, {})
    return str(known.get(value, plain(value)))


def _overview_exported(details: Mapping[str, Any]) -> str:
    pairs = [
        (key, value)
        for key, value in parse_qsl(str(details.get("filters") or ""))
        if key != "page" and value
    ]
    if not pairs:
        return gettext("Everything, without filters")
    return gettext("Filters: %(filters)s") % {
        "filters": joined(
            pair(str(_OVERVIEW_FILTERS.get(key, key_label(key))), _filter_value(key, value))
            for key, value in pairs
        )
    }


def _schedule_moved(details: Mapping[str, Any]) -> str:
    return gettext(
        "%(group)s: tier %(tier_before)s → %(tier_after)s, next update %(before)s → %(after)s"
    ) % {
        "group": plain(details.get("group")),
        "tier_before": plain(details.get("tier_before")) or "—",
        "tier_after": plain(details.get("tier_after")) or "—",
        "before": plain(details.get("before")),
        "after": plain(details.get("after")),
    }


GROUP_CREATED = action("monitoring.group.created", _("Update group created"), _group_saved)
GROUP_UPDATED = action("monitoring.group.updated", _("Update group changed"), _group_saved)
GROUP_PAUSED = action("monitoring.group.paused", _("Update group paused"))
GROUP_RESUMED = action("monitoring.group.resumed", _("Update group resumed"))
GROUP_SENT_NOW = action("monitoring.group.sent_now", _("Update group sent now"), _period)
GROUP_DELETED = action("monitoring.group.deleted", _("Update group deleted"))
EXPIRY_SET = action("monitoring.expiry.set", _("Expiry date set"), _expiry)
EXPIRY_CLEARED = action("monitoring.expiry.cleared", _("Expiry date cleared"), _expiry)
RUN_EXPORTED = action("monitoring.run.exported", _("Outstanding list exported"), _period)
OVERVIEW_EXPORTED = action(
    "monitoring.overview.exported", _("Compliance overview exported"), _overview_exported
)
RUN_REMINDED = action(
    "monitoring.run.reminded", _("Outstanding clients of a run reminded"), _reminded
)
SCHEDULE_MOVED = action(
    "monitoring.schedule.moved", _("Next update moved by a change of tier"), _schedule_moved
)
