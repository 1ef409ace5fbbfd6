"""URLs of the campaigns pages (namespace "correlation")."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.correlation import views

app_name = "correlation"

urlpatterns: list[URLPattern | URLResolver] = [
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/<int:key>/", views.campaign_detail, name="campaign"),
]
