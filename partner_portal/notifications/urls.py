"""Notification pages: channels, routing policies, customer tags, suppression rules, SLAs."""

from django.urls import path

from partner_portal.notifications import sla_views, suppression_views, views

app_name = "notifications"

urlpatterns = [
    path("notifications/channels/", views.channel_list, name="channels"),
    path("notifications/channels/new/", views.channel_create, name="channel_create"),
    path("notifications/channels/<int:pk>/", views.channel_detail, name="channel_detail"),
    path("notifications/channels/<int:pk>/edit/", views.channel_edit, name="channel_edit"),
    path("notifications/channels/<int:pk>/test/", views.channel_test, name="channel_test"),
    path("notifications/policies/", views.policy_list, name="policies"),
    path("notifications/policies/new/", views.policy_create, name="policy_create"),
    path("notifications/policies/<int:pk>/edit/", views.policy_edit, name="policy_edit"),
    path("notifications/policies/<int:pk>/move/", views.policy_move, name="policy_move"),
    path(
        "notifications/policies/<int:pk>/preview/",
        views.policy_preview_page,
        name="policy_preview",
    ),
    path("notifications/tags/", views.tag_list, name="tags"),
    path("notifications/tags/new/", views.tag_create, name="tag_create"),
    path("notifications/tags/customer/", views.customer_tags_set, name="customer_tags"),
    path("notifications/suppressions/", suppression_views.rule_list, name="suppressions"),
    path(
        "notifications/suppressions/new/",
        suppression_views.rule_create,
        name="suppression_create",
    ),
    path(
        "notifications/suppressions/<int:pk>/",
        suppression_views.rule_detail,
        name="suppression_detail",
    ),
    path(
        "notifications/suppressions/<int:pk>/edit/",
        suppression_views.rule_edit,
        name="suppression_edit",
    ),
    path(
        "notifications/suppressions/<int:pk>/end/",
        suppression_views.rule_end,
        name="suppression_end",
    ),
    path("notifications/sla/", sla_views.sla_page, name="sla"),
    path("sla/report/", sla_views.sla_report_page, name="sla_report"),
    path("sla/report/export.csv", sla_views.sla_report_csv, name="sla_report_csv"),
    path("notifications/sla/goals/", sla_views.sla_goal_save, name="sla_goal_save"),
    path(
        "notifications/sla/goals/<int:pk>/delete/",
        sla_views.sla_goal_delete,
        name="sla_goal_delete",
    ),
]
