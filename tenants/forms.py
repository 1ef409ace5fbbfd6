"""Forms of the onboarding pages; they validate, services write."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings

from partner_portal.core.bounds import IdField
from partner_portal.defender import normalise_tenant_id
from tenants.models import (
    CloudChoice,
    ConsentFlow,
    Customer,
    CustomerStatus,
    RegionChoice,
    time_zone_names,
)
from tenants.selectors import tenant_holder

GUID_SHAPE = re.compile(r"^[0-9a-fA-F-]{30,40}$|^\{.*\}$")
DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class CustomerForm(forms.Form):
    display_name = forms.CharField(label="Customer name", max_length=200)
    contact_name = forms.CharField(label="Contact name", max_length=200, required=False)
    contact_email = forms.EmailField(label="Contact e-mail", required=False)
    expected_tenant = forms.CharField(
        label="Expected tenant ID or domain",
        max_length=255,
        required=False,
        help_text=(
            "Optional. A tenant ID, or a domain such as contoso.onmicrosoft.com that the "
            "portal looks up at Microsoft when you save. Consent from any other tenant is "
            "then refused."
        ),
    )
    cloud = forms.ChoiceField(choices=CloudChoice.choices, initial=CloudChoice.COMMERCIAL)
    api_region = forms.ChoiceField(
        label="Defender API region", choices=RegionChoice.choices, required=False
    )
    collect_alerts = forms.BooleanField(label="Collect alerts", required=False, initial=True)
    collect_incidents = forms.BooleanField(label="Collect incidents", required=False, initial=True)
    sync_interval_seconds = forms.IntegerField(
        label="Sync every (seconds)", min_value=30, max_value=3600, initial=60
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        initial="UTC",
        required=False,
        help_text="SLA goals with business hours count them in this zone (UTC if none).",
    )

    def __init__(self, *args: Any, instance: Customer | None = None, **kwargs: Any) -> None:
        self.instance = instance
        super().__init__(*args, **kwargs)
        zone_field = self.fields["time_zone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = [(name, name) for name in time_zone_names()]

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"].strip()
        if not name:
            raise forms.ValidationError("Enter the customer's name.")
        return name

    def clean_time_zone(self) -> str:
        return str(self.cleaned_data.get("time_zone") or "UTC")

    def clean_expected_tenant(self) -> str:
        value = self.cleaned_data["expected_tenant"].strip()
        if not value:
            return ""
        # Admin centres sometimes show the ID in braces; accept it as pasted.
        guid = normalise_tenant_id(value.strip("{}"))
        if guid:
            other = tenant_holder(tenant_id=guid, excluding=self.instance)
            if other is not None:
                raise forms.ValidationError(
                    f"Tenant {guid} already belongs to the customer “{other.display_name}”."
                )
            return guid
        if GUID_SHAPE.match(value):
            raise forms.ValidationError(
                "That is not a valid tenant ID: expected a GUID like "
                "72f988bf-86f1-41af-91ab-2d7cd011db47."
            )
        if not DOMAIN.match(value.lower()):
            raise forms.ValidationError(
                "Enter a tenant ID (GUID) or a domain such as contoso.onmicrosoft.com."
            )
        return value.lower()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("collect_alerts") and not data.get("collect_incidents"):
            raise forms.ValidationError("Choose at least one of alerts and incidents to collect.")
        if data.get("api_region") and data.get("cloud") != CloudChoice.COMMERCIAL:
            self.add_error("api_region", "Regional hosts exist in the commercial cloud only.")
        return data


class RegisterForm(CustomerForm):
    flow = forms.ChoiceField(
        label="Consent link",
        choices=ConsentFlow.choices,
        initial=ConsentFlow.V2,
        widget=forms.RadioSelect,
        help_text="Admin consent tells the portal the tenant ID directly.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A new customer starts in the cloud and region most of the partner's customers
        # use (PARTNER_CLOUD, PARTNER_API_REGION); staff change them for the exceptions.
        self.fields["cloud"].initial = settings.PARTNER_CLOUD
        self.fields["api_region"].initial = settings.PARTNER_API_REGION


class NewLinkForm(forms.Form):
    flow = forms.ChoiceField(choices=ConsentFlow.choices, initial=ConsentFlow.V2)


class EmailLinkForm(forms.Form):
    to = forms.EmailField(label="Send to")


class DeleteForm(forms.Form):
    confirmation = forms.CharField(label="Type the customer's name to confirm", max_length=200)


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(
        choices=[("", "Any status"), *CustomerStatus.choices], required=False
    )
    cloud = forms.ChoiceField(choices=[("", "Any cloud"), *CloudChoice.choices], required=False)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label="Action starts with", required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=150)
    q = forms.CharField(label="Search", required=False, max_length=200)
    customer = IdField(required=False)
