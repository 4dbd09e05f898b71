"""Writes the schemathesis configuration that points the fuzz at real objects of the demo.

Random UUIDs only reach the 404 of each operation; these reach the code behind it. A group
of its own is given to DELETE, so that the others keep theirs.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from django_scopes import scope

from dossiers.models import Dossier
from monitoring.models import UpdateGroup
from organizations.demo import DEMO_SLUG
from organizations.models import Organization
from profiles.models import DataField, Document, Profile

organization = Organization.objects.get(slug=DEMO_SLUG)
with scope(organization=organization):
    profile = Profile.objects.filter(kind="contact").order_by("id").first()
    field = DataField.objects.order_by("id").first()
    group = UpdateGroup.objects.order_by("id").first()
    doomed = UpdateGroup(
        organization=organization,
        title="Deleted by the fuzz",
        applies_to="contact",
        start_date=dt.date(2026, 1, 1),
    )
    doomed.schedule_from()
    doomed.save()
    dossier = Dossier.objects.order_by("id").first()
    document = Document.objects.order_by("id").first()

targets = {
    "/api/v1/profiles/{uuid}/": profile,
    "/api/v1/profiles/{uuid}/values/": profile,
    "/api/v1/profiles/{uuid}/archive/": profile,
    "/api/v1/profiles/{uuid}/restore/": profile,
    "/api/v1/profiles/{uuid}/documents/": profile,
    "/api/v1/fields/{uuid}/": field,
    "/api/v1/groups/{uuid}/runs/": group,
    "/api/v1/dossiers/{uuid}/": dossier,
    "/api/v1/dossiers/{uuid}/approve/": dossier,
    "/api/v1/dossiers/{uuid}/reject/": dossier,
    "/api/v1/documents/{uuid}/": document,
}
lines = []
for path, obj in targets.items():
    if obj is not None:
        lines += ["[[operations]]", f"include-path = {json.dumps(path)}"]
        lines += [f'parameters = {{ "path.uuid" = "{obj.uuid}" }}', ""]
for method, obj in (("GET", group), ("PUT", group), ("PATCH", group), ("DELETE", doomed)):
    lines += ["[[operations]]", 'include-path = "/api/v1/groups/{uuid}/"']
    lines += [f'include-method = "{method}"', f'parameters = {{ "path.uuid" = "{obj.uuid}" }}', ""]
sys.stdout.write("\n".join(lines))
