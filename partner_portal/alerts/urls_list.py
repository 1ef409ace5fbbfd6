"""Alert list pages (list, counts, charts, live updates, exports)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
