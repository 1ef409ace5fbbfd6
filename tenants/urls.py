"""Customer onboarding pages (staff) and the consent pages a customer's admin opens."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
