"""Alert detail, write-back, incidents, tenant health and analyst scopes."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
