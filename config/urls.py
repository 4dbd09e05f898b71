from django.contrib.auth import views as auth_views
from django.urls import include, path

from organizations import accounts, twofactor
from organizations import views as organization_views

# Admin-only pages live under settings/; the few that cannot are named here, beside the URL
# configuration, so that the test refusing staff finds them without trusting the views.
ADMIN_ONLY_OUTSIDE_SETTINGS: list[str] = ["profiles:privacy_export", "profiles:privacy_erase"]

urlpatterns = [
    path("", organization_views.home, name="home"),
    path("healthz", organization_views.healthz, name="healthz"),
    path("login/", twofactor.TwoStepLoginView.as_view(), name="login"),
    path("login/code/", twofactor.login_verify, name="login_verify"),
    path("account/two-factor/", twofactor.two_factor, name="two_factor"),
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
    path("i18n/", include("django.conf.urls.i18n")),
    path("o/<slug:org_slug>/", include("organizations.urls")),
    path("o/<slug:org_slug>/", include("profiles.urls")),
    path("o/<slug:org_slug>/", include("imports.urls")),
    path("o/<slug:org_slug>/", include("dossiers.urls")),
    path("o/<slug:org_slug>/", include("monitoring.urls")),
    path("d/", include("dossiers.portal_urls")),
    path("api/v1/", include("api.urls")),
    path("o/<slug:org_slug>/", include("api.settings_urls")),
]
