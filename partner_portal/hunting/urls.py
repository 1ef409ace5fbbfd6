"""URLs of the hunting pages (namespace "hunting")."""

from django.urls import URLPattern, URLResolver, path

from partner_portal.hunting import views

app_name = "hunting"

urlpatterns: list[URLPattern | URLResolver] = [
    path("hunting/", views.hunts, name="hunts"),
    path("hunting/start/", views.hunt_start, name="start"),
    path("hunting/<int:pk>/", views.hunt, name="hunt"),
    path("hunting/<int:pk>/results/", views.hunt_results, name="results"),
    path("hunting/<int:pk>/export.csv", views.hunt_export, name="export"),
    path("hunting/saved/", views.query_save, name="save"),
    path("hunting/saved/<int:pk>/delete/", views.query_delete, name="delete"),
]
