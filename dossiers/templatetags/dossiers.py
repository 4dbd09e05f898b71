from __future__ import annotations

from typing import Any

from django import template

from dossiers.models import Dossier

register = template.Library()


@register.simple_tag
def to_review_count(organization: Any) -> int:
    """The navigation's count of dossiers waiting for staff (one indexed COUNT)."""
    if organization is None:
        return 0
    return Dossier.objects.filter(
        organization=organization, status=Dossier.Status.TO_REVIEW
    ).count()
