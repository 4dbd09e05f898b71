from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oidc_provider.models import Client, ResponseType

from tests.idp import claims


@csrf_exempt
def set_up(request: HttpRequest) -> HttpResponse:
    """The tests' back door: users and clients to create, claims to tamper with."""
    spec = json.loads(request.body)
    for user in spec.get("users", []):
        account, _created = get_user_model().objects.get_or_create(username=user["username"])
        account.email = user["email"]
        account.last_name = user.get("last_name", "")
        account.set_password(user["password"])
        account.save()
    for client in spec.get("clients", []):
        row, _created = Client.objects.get_or_create(
            client_id=client["client_id"],
            defaults={"name": client["client_id"], "client_type": "confidential"},
        )
        row.client_secret = client["client_secret"]
        row.redirect_uris = client["redirect_uris"]
        row.require_consent = False
        row.jwt_alg = "RS256"
        row.save()
        row.response_types.set([ResponseType.objects.get(value="code")])
    if "tamper" in spec:
        claims.TAMPER.clear()
        claims.TAMPER.update(spec["tamper"])
    return HttpResponse("ok")


urlpatterns = [
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("_test/setup", set_up),
]
