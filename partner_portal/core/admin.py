from django.contrib import admin

from partner_portal.core.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker", "last_seen", "beats")
    readonly_fields = ("worker", "last_seen", "beats")
