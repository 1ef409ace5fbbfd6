from django.contrib import admin

from tenants.models import AnalystScope, AuditEvent, ConsentRequest, Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("display_name", "status", "tenant_id", "cloud", "last_verified_at")
    list_filter = ("status", "cloud")
    search_fields = ("display_name", "tenant_id", "contact_email")
    readonly_fields = ("tenant_id", "granted_roles", "missing_roles", "last_verified_at")


@admin.register(ConsentRequest)
class ConsentRequestAdmin(admin.ModelAdmin):
    list_display = ("customer", "flow", "outcome", "created_at", "expires_at", "used_at")
    list_filter = ("outcome", "flow")
    exclude = ("state_hash",)
    readonly_fields = ("public_id", "state_issued_at", "used_at", "error_code")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is append-only, also here."""

    list_display = ("created_at", "actor_label", "action", "customer_name", "summary")
    list_filter = ("action",)
    search_fields = ("summary", "customer_name", "actor_label")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AnalystScope)
class AnalystScopeAdmin(admin.ModelAdmin):
    """Grants of customers to analysts; the portal's Scopes page does the same, audited."""

    list_display = ("__str__", "user", "group", "customer", "all_customers", "granted_at")
    list_filter = ("all_customers", "group")
    search_fields = ("user__username", "group__name", "customer__display_name")
    autocomplete_fields = ("customer",)
    raw_id_fields = ("user",)
    readonly_fields = ("granted_by", "granted_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)
