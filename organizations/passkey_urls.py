"""The passkeys' pages and the ceremonies' JSON endpoints, under /account/passkeys/."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from organizations import passkeys

app_name = "passkeys"

urlpatterns = [
    path("add/", passkeys.passkey_add, name="add"),
    path("<int:pk>/remove/", passkeys.passkey_remove, name="remove"),
    path("registration/begin/", passkeys.RegistrationBegin.as_view(), name="registration_begin"),
    path(
        "registration/complete/",
        passkeys.RegistrationComplete.as_view(),
        name="registration_complete",
    ),
    path(
        "authentication/begin/",
        passkeys.AuthenticationBegin.as_view(),
        name="authentication_begin",
    ),
    path(
        "authentication/complete/",
        passkeys.AuthenticationComplete.as_view(),
        name="authentication_complete",
    ),
    # The library script's texts: its own catalogue, and this project's French (LOCALE_PATHS).
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="jsi18n",
    ),
]
