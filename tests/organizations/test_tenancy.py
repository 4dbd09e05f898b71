from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scope
from django_scopes.exceptions import ScopeError

from organizations.models import Membership
from organizations.tenancy import each_in_scope
from profiles.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_owner_lands_on_the_home(owner_client, org):
    response = owner_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"/o/{org.slug}/"
    assert "Acme" in response.text


def test_the_outsider_gets_a_404_on_another_organisation(outsider_client, org):
    assert outsider_client.get(f"/o/{org.slug}/").status_code == 404
    assert outsider_client.get(f"/o/{org.slug}/settings/").status_code == 404


def test_an_unknown_organisation_is_a_404(owner_client):
    assert owner_client.get("/o/nope/").status_code == 404


def test_an_anonymous_user_is_sent_to_log_in(client, org):
    response = client.get(f"/o/{org.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/o/acme/")


def test_staff_are_refused_settings(member_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/").status_code == 403


def test_admins_edit_settings(owner_client, org):
    response = owner_client.post(
        f"/o/{org.slug}/settings/",
        {
            "name": "Acme Corp",
            "time_zone": "Europe/Brussels",
            "default_language": "en",
            "date_style": "dmy",
        },
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.time_zone) == ("Acme Corp", "Europe/Brussels")


def test_bad_settings_show_an_error_on_their_field(owner_client, org):
    response = owner_client.post(
        f"/o/{org.slug}/settings/",
        {"name": "", "time_zone": "Mars/Olympus", "default_language": "en", "date_style": "dmy"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "time_zone"}
    org.refresh_from_db()
    assert org.name == "Acme"


def test_an_unscoped_query_raises(org, owner):
    with pytest.raises(ScopeError), scope():
        list(Membership.objects.all())


def test_a_scoped_query_sees_only_its_organisation(org, other_org, owner, outsider):
    with scope(organization=org):
        assert [m.user.username for m in Membership.objects.all()] == ["owner"]


def test_a_user_of_several_organisations_lands_in_one_and_switches(org, other_org, owner):
    with scope(organization=other_org):
        Membership.objects.create(organization=other_org, user=owner, role="staff")
    client = Client()
    client.force_login(owner)
    response = client.get("/")
    assert response["Location"] == "/o/acme/"  # the first joined (tests/organizations/test_home.py)
    response = client.get("/o/acme/contacts/")
    assert "/o/globex/" in response.text  # the switcher


def test_a_user_of_one_organisation_goes_straight_there(owner_client):
    response = owner_client.get("/")
    assert response["Location"] == "/o/acme/"


def test_log_in_and_out(org, owner):
    client = Client()
    response = client.post("/login/", {"username": "owner", "password": "pw"})
    assert response.status_code == 302
    assert client.get("/o/acme/contacts/").status_code == 200
    client.post("/logout/")
    assert client.get("/o/acme/").status_code == 302


def test_wrong_password_is_refused_with_a_message(org, owner):
    response = Client().post("/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_pages_speak_french(owner_client, org):
    owner_client.cookies.load({"django_language": "fr"})
    response = owner_client.get(f"/o/{org.slug}/settings/")
    assert "Membres" in response.text
    assert "Déconnexion" in response.text


def test_the_user_model_is_not_tenant_data(org):
    # Users exist across organisations; only memberships are scoped.
    get_user_model().objects.create_user("x")
    with scope():
        assert get_user_model().objects.count() == 1


def test_a_cross_tenant_job_visits_each_row_inside_its_own_organisation(org, other_org):
    factories.contact(org, email="a@example.com")
    factories.contact(other_org, email="b@example.com")
    seen = {
        organization.slug: list(Profile.objects.values_list("email", flat=True))
        for organization in each_in_scope([org, other_org], lambda o: o)
    }
    assert seen == {"acme": ["a@example.com"], "globex": ["b@example.com"]}
