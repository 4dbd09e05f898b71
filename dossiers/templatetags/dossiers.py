from __future__ import annotations

from typing import Any

from django import template
from django.template.context import Context

from dossiers.models import Dossier

register = template.Library()


@register.simple_tag(takes_context=True)
def to_review_count(context: Context, organization: Any) -> int:
    """The navigation's count of dossiers waiting for staff (one indexed COUNT), unless the
    page counted them already and says so (`to_review_count` in its context): the review
    queue and the home count the same dossiers."""
    counted = context.get("to_review_count")
    if counted is not None:
        return int(counted)
    if organization is None:
        return 0
    return Dossier.objects.filter(
        organization=organization, status=Dossier.Status.TO_REVIEW
    ).count()
