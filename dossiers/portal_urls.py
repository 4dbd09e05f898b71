from django.urls import path

from dossiers import portal

app_name = "portal"

urlpatterns = [
    path("<str:token>/", portal.dossier_page, name="dossier"),
    path("<str:token>/files/<uuid:field_uuid>/", portal.document_on_file, name="document"),
]
