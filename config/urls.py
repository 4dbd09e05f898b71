from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from home import views as home_views
from operations import views as operations_views
from organizations import accounts, sso_views, twofactor
from organizations import views as organization_views

# Admin-only pages live under settings/; the few that cannot are named here, beside the URL
# configuration, so that the test refusing staff finds them without trusting the views.
ADMIN_ONLY_OUTSIDE_SETTINGS: list[str] = ["profiles:privacy_export", "profiles:privacy_erase"]

urlpatterns = [
    path("", organization_views.home, name="home"),
    path("healthz", organization_views.healthz, name="healthz"),
    path("readyz", operations_views.readyz, name="readyz"),
    path("metrics", operations_views.metrics, name="metrics"),
    # Pages name their icon; this answers the browsers and tools that ask by the old name.
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True),
    ),
    path("login/", twofactor.TwoStepLoginView.as_view(), name="login"),
    path("login/code/", twofactor.login_verify, name="login_verify"),
    path("account/two-factor/", twofactor.two_factor, name="two_factor"),
    path("account/passkeys/", include("organizations.passkey_urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/reset/", accounts.ThrottledPasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.AuditedPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "invitation/<str:token>/",
        organization_views.invitation_accept,
        name="invitation_accept",
    ),
    # Single sign-on: outside /o/<slug>/, which asks for a signed-in member.
    path("sso/<slug:organization>/", sso_views.sign_in, name="sso_sign_in"),
    path("sso/<slug:organization>/callback/", sso_views.callback, name="sso_callback"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("o/<slug:org_slug>/", home_views.home, name="org_home"),
    path("o/<slug:org_slug>/", include("home.urls")),
    path("o/<slug:org_slug>/", include("organizations.urls")),
    path("o/<slug:org_slug>/", include("profiles.urls")),
    path("o/<slug:org_slug>/", include("imports.urls")),
    path("o/<slug:org_slug>/", include("dossiers.urls")),
    path("o/<slug:org_slug>/", include("monitoring.urls")),
    path("d/", include("dossiers.portal_urls")),
    path("api/v1/", include("api.urls")),
    path("o/<slug:org_slug>/", include("api.settings_urls")),
    path("o/<slug:org_slug>/", include("operations.urls")),
    path("email/", include("outbox.urls")),
]
