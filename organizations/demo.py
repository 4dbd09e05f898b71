"""The demo organisation that the run command seeds, so a newcomer has something to open."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django_scopes import scopes_disabled

from organizations.models import Membership, Organization

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin"
DEMO_PASSWORD = "demo-admin"  # noqa: S105 - a demo account, printed on purpose
DEMO_STAFF = "staff"


def _user(username: str, email: str, first: str, last: str) -> User:
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": email, "first_name": first, "last_name": last}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@scopes_disabled()
def seed_organizations() -> Organization:
    organization, _ = Organization.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={"name": "Demo SA", "time_zone": "Europe/Paris", "default_language": "en"},
    )
    holding, _ = Organization.objects.get_or_create(
        slug="demo-holding",
        defaults={"name": "Demo Holding", "time_zone": "Europe/Paris", "default_language": "fr"},
    )
    admin = _user(DEMO_ADMIN, "admin@demo.example", "Alice", "Admin")
    staff = _user(DEMO_STAFF, "staff@demo.example", "Sam", "Staff")
    Membership.objects.get_or_create(
        organization=organization, user=admin, defaults={"role": Membership.Role.ADMIN}
    )
    Membership.objects.get_or_create(
        organization=organization, user=staff, defaults={"role": Membership.Role.STAFF}
    )
    Membership.objects.get_or_create(
        organization=holding, user=admin, defaults={"role": Membership.Role.STAFF}
    )
    return organization
