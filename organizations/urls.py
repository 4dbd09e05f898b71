from django.urls import path

from organizations import sso_views, views

urlpatterns = [
    path("settings/", views.organization_settings, name="organization_settings"),
    path("notices/", views.my_notices, name="my_notices"),
    path("settings/security/", sso_views.security_settings, name="security_settings"),
    path("settings/security/remove/", sso_views.security_remove, name="security_remove"),
    path("email/retry/", views.retry_address, name="retry_address"),
    path("settings/audit/", views.audit_log, name="audit_log"),
    path("settings/audit/export.csv", views.audit_export, name="audit_export"),
    path("settings/audit/integrity/", views.audit_integrity, name="audit_integrity"),
    path("settings/members/", views.member_add, name="member_add"),
    path("settings/members/<uuid:membership_uuid>/role/", views.member_role, name="member_role"),
    path(
        "settings/invitations/<uuid:invitation_uuid>/cancel/",
        views.invitation_cancel,
        name="invitation_cancel",
    ),
    path(
        "settings/members/<uuid:membership_uuid>/remove/",
        views.member_remove,
        name="member_remove",
    ),
]
