from django.urls import path

from organizations import views

urlpatterns = [
    path("", views.org_home, name="org_home"),
    path("settings/", views.organization_settings, name="organization_settings"),
    path("settings/audit/", views.audit_log, name="audit_log"),
]
