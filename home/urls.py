from django.urls import path

from home import views

app_name = "home"

urlpatterns = [
    path("home/runs/", views.runs, name="runs"),
    path("search/", views.search_page, name="search"),
]
