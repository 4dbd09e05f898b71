"""The bare project's one page: a signed-in page rendered through a template."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path


@login_required(login_url="/login/")
def page(request: HttpRequest) -> HttpResponse:
    return render(request, "bare.html")


urlpatterns = [path("bare/", page, name="bare")]
