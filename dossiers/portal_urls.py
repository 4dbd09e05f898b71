from django.urls import path

from dossiers import portal

app_name = "portal"

urlpatterns = [
    path("<str:token>/", portal.dossier_page, name="dossier"),
]
