"""Forms of the notification pages. Secret fields are write-only: they are never filled
in from the stored value, and left empty on an edit they keep what is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, validate_email

from partner_portal.alerts.forms import CLASSIFICATION_CHOICES, DETERMINATION_CHOICES
from partner_portal.defender import GRAPH_SERVICE_SOURCES, AlertSeverity
from partner_portal.notifications.evidence_form import EvidenceConditionsForm
from partner_portal.notifications.models import (
    Channel,
    ChannelKind,
    CustomerTag,
    Policy,
    SuppressionAction,
    SuppressionRule,
)
from partner_portal.notifications.mute import BadWindow, from_json, parse_windows
from tenants.models import Customer

MIN_SECRET_LENGTH = 16


def _words(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def _techniques(text: str) -> list[str]:
    techniques = [t.upper() for t in _words(text)]
    for technique in techniques:
        head, _, tail = technique.partition(".")
        if not (head[:1] == "T" and head[1:].isdigit() and (not tail or tail.isdigit())):
            raise ValidationError(f"“{technique[:40]}” is not a MITRE technique ID.")
    return techniques


class ChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Teams, Slack and webhook channels. Kept secret: it is never shown again.",
    )
    signing_secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"Webhook channels: at least {MIN_SECRET_LENGTH} characters, shared with "
        "the receiver to check signatures. Never shown again.",
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "recipients"]
        help_texts = {"recipients": "E-mail channels: addresses, separated by commas."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        stored = self.instance if self.instance.pk else None
        if kind == ChannelKind.EMAIL:
            recipients = _words(data.get("recipients") or "")
            if not recipients:
                self.add_error("recipients", "Give at least one e-mail address.")
            for address in recipients:
                try:
                    validate_email(address)
                except ValidationError:
                    self.add_error("recipients", f"“{address[:80]}” is not an e-mail address.")
            data["recipients"] = ", ".join(recipients)
        elif kind:
            url = (data.get("url") or "").strip()
            data["url"] = url
            if url:
                parts = urlsplit(url)
                if parts.scheme not in ("https", "http") or not parts.hostname:
                    self.add_error("url", "Enter the full https:// address the service gave you.")
            elif stored is None or not stored.url:
                self.add_error("url", "Enter the webhook URL.")
            if kind == ChannelKind.WEBHOOK:
                secret = data.get("signing_secret") or ""
                if secret and len(secret) < MIN_SECRET_LENGTH:
                    self.add_error(
                        "signing_secret", f"Use at least {MIN_SECRET_LENGTH} characters."
                    )
                elif not secret and (stored is None or not stored.signing_secret):
                    self.add_error("signing_secret", "Enter a signing secret.")
        return data

    def secrets(self) -> dict[str, str]:
        kind = self.cleaned_data.get("kind")
        if kind == ChannelKind.EMAIL:
            return {}
        secrets = {"url": self.cleaned_data.get("url") or ""}
        if kind == ChannelKind.WEBHOOK:
            secrets["signing_secret"] = self.cleaned_data.get("signing_secret") or ""
        return secrets


def product_choices() -> list[tuple[str, str]]:
    """Defender's products as Graph names them (`serviceSource`)."""
    return [
        (member, GRAPH_SERVICE_SOURCES.label(member))
        for member in GRAPH_SERVICE_SOURCES
        if not member.startswith("unknown")
    ]


class PolicyForm(forms.ModelForm):
    products = forms.MultipleChoiceField(
        choices=product_choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any product. Alerts of the older API are Defender for "
        "Endpoint's.",
    )  # fmt: skip
    severities = forms.MultipleChoiceField(
        choices=AlertSeverity.choices(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any severity.",
    )
    categories_text = forms.CharField(
        label="Categories",
        required=False,
        max_length=500,
        help_text="Comma-separated, e.g. Ransomware, CredentialAccess. Empty: any.",
    )
    techniques_text = forms.CharField(
        label="MITRE techniques",
        required=False,
        max_length=500,
        help_text="Comma-separated IDs, e.g. T1059, T1003.001. Empty: any.",
    )
    mute_text = forms.CharField(
        label="Mute windows",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One a line, e.g. “Mon-Fri 18:00-08:00 Europe/Amsterdam” or "
        "“Sat,Sun 00:00-24:00”. Notifications wait for the window's end; none is dropped.",
    )
    customers = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.order_by("display_name"), required=False
    )
    tags = forms.ModelMultipleChoiceField(queryset=CustomerTag.objects.all(), required=False)
    channels = forms.ModelMultipleChoiceField(queryset=Channel.objects.all())

    class Meta:
        model = Policy
        fields = [
            "name", "enabled", "customers", "tags", "products", "severities", "title_contains",
            "continue_matching", "incident_events", "sla_events", "campaign_events", "channels",
            "group_by",
            "group_wait_seconds", "repeat_interval_seconds",
        ]  # fmt: skip
        labels = {
            "continue_matching": "Continue to the next policies after a match",
            "incident_events": "Also notify a new incident, and an incident whose severity rises",
            "sla_events": "Also notify SLA warnings and breaches of the alerts it matches",
            "campaign_events": "Also notify a campaign: an indicator seen at two or more of "
            "these customers, and each further customer it reaches",
        }
        help_texts = {
            "customers": "With tags: a customer named here or carrying a tag. Neither: all.",
            "group_wait_seconds": "Wait this long to gather alerts of one group (0 to 3600).",
            "repeat_interval_seconds": "At least this long between two messages about one "
            "group (60 to 604800).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["products"].initial = self.instance.products
            self.fields["categories_text"].initial = ", ".join(self.instance.categories)
            self.fields["techniques_text"].initial = ", ".join(self.instance.mitre_techniques)
            windows = from_json(self.instance.mute_windows)
            self.fields["mute_text"].initial = "\n".join(str(w) for w in windows)

    def clean_group_wait_seconds(self) -> int:
        value: int = self.cleaned_data["group_wait_seconds"]
        if not 0 <= value <= 3600:
            raise ValidationError("Use 0 to 3600 seconds.")
        return value

    def clean_repeat_interval_seconds(self) -> int:
        value: int = self.cleaned_data["repeat_interval_seconds"]
        if not 60 <= value <= 7 * 24 * 3600:
            raise ValidationError("Use 60 to 604800 seconds (a week).")
        return value

    def clean_techniques_text(self) -> list[str]:
        return _techniques(self.cleaned_data.get("techniques_text") or "")

    def clean_mute_text(self) -> list[dict[str, object]]:
        try:
            windows = parse_windows(self.cleaned_data.get("mute_text") or "")
        except BadWindow as exc:
            raise ValidationError(str(exc)) from None
        return [window.as_json() for window in windows]

    def clean_categories_text(self) -> list[str]:
        return _words(self.cleaned_data.get("categories_text") or "")

    def apply(self) -> tuple[Policy, dict[str, Any]]:
        """The policy with its plain fields set, and its relations to set after saving."""
        policy: Policy = self.save(commit=False)
        policy.categories = self.cleaned_data["categories_text"]
        policy.mitre_techniques = self.cleaned_data["techniques_text"]
        policy.severities = list(self.cleaned_data["severities"])
        policy.products = list(self.cleaned_data["products"])
        policy.mute_windows = self.cleaned_data["mute_text"]
        relations = {name: self.cleaned_data[name] for name in ("customers", "tags", "channels")}
        return policy, relations


class TagForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="E.g. Gold, Silver, EU, 24x7.")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if CustomerTag.objects.filter(name__iexact=name).exists():
            raise ValidationError("That tag exists already.")
        return name


class CustomerTagsForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.all())
    tags = forms.ModelMultipleChoiceField(
        queryset=CustomerTag.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )


class SuppressionRuleForm(EvidenceConditionsForm, forms.ModelForm):
    """A suppression rule; its expiry is given in days from now (renewing is saving). Its
    evidence conditions are `EvidenceConditionsForm`'s."""

    customers = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.order_by("display_name"), required=False
    )
    tags = forms.ModelMultipleChoiceField(queryset=CustomerTag.objects.all(), required=False)
    products = forms.MultipleChoiceField(
        choices=product_choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any product.",
    )  # fmt: skip
    severities = forms.MultipleChoiceField(
        choices=AlertSeverity.choices(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any severity.",
    )  # fmt: skip
    categories_text = forms.CharField(
        label="Categories", required=False, max_length=500,
        help_text="Comma-separated, e.g. Execution, InitialAccess. Empty: any.",
    )  # fmt: skip
    techniques_text = forms.CharField(
        label="MITRE techniques", required=False, max_length=500,
        help_text="Comma-separated IDs, e.g. T1059, T1003.001. Empty: any.",
    )  # fmt: skip
    detectors_text = forms.CharField(
        label="Detection sources", required=False, max_length=500,
        help_text="Comma-separated, e.g. WindowsDefenderAv, CustomDetection. Empty: any.",
    )  # fmt: skip
    days = forms.IntegerField(
        label="Expires after (days)", min_value=1,
        help_text="Required; saving again renews the rule from today.",
    )  # fmt: skip
    classification = forms.ChoiceField(
        choices=[("", "—"), *CLASSIFICATION_CHOICES], required=False,
        help_text="Resolve action: what Defender records. Required for it.",
    )  # fmt: skip
    determination = forms.ChoiceField(choices=[("", "—"), *DETERMINATION_CHOICES], required=False)

    class Meta:
        model = SuppressionRule
        fields = ["reason", "customers", "tags", "title_contains", "action", "incidents"]
        labels = {"title_contains": "Title contains", "incidents": "Also keep incidents quiet"}
        help_texts = {
            "incidents": "No incident message for an incident this rule matches on its "
            "customer, severity and name, or whose alerts were all suppressed.",
            "reason": "Required: why alerts like these may stay quiet (shown on the rule).",
            "customers": "With tags: a customer named here or carrying a tag. Neither: all.",
        }
        widgets = {"reason": forms.TextInput(attrs={"size": 80})}
        error_messages = {"reason": {"required": "Say why alerts like these may stay quiet."}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = int(settings.NOTIFY_SUPPRESSION_MAX_DAYS)
        days = self.fields["days"]
        assert isinstance(days, forms.IntegerField)
        days.max_value = limit
        days.validators.append(MaxValueValidator(limit))
        days.help_text = f"Required, at most {limit}; saving again renews the rule from today."
        days.initial = min(7, limit)
        rule = self.instance
        if rule.pk:
            self.fields["products"].initial = rule.products
            self.fields["severities"].initial = rule.severities
            self.fields["categories_text"].initial = ", ".join(rule.categories)
            self.fields["techniques_text"].initial = ", ".join(rule.mitre_techniques)
            self.fields["detectors_text"].initial = ", ".join(rule.detectors)
            self.fields["classification"].initial = rule.classification
            self.fields["determination"].initial = rule.determination
        names = list(self.fields)
        self.order_fields([*names[: names.index("detectors_text") + 1], *self.evidence_fields()])

    def clean_techniques_text(self) -> list[str]:
        return _techniques(self.cleaned_data.get("techniques_text") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == SuppressionAction.RESOLVE and not data.get("classification"):
            self.add_error("classification", "Choose what Defender is to record.")
        self.evidence = self.evidence_cleaned()
        return data

    def apply(self) -> tuple[SuppressionRule, dict[str, Any], int]:
        """The rule with its plain fields set, its relations, and its days to live."""
        rule: SuppressionRule = self.save(commit=False)
        rule.products = list(self.cleaned_data["products"])
        rule.severities = list(self.cleaned_data["severities"])
        rule.categories = _words(self.cleaned_data["categories_text"] or "")
        rule.mitre_techniques = self.cleaned_data["techniques_text"]
        rule.detectors = _words(self.cleaned_data["detectors_text"] or "")
        rule.classification = self.cleaned_data["classification"]
        rule.determination = self.cleaned_data["determination"]
        for kind, values in self.evidence.items():
            setattr(rule, kind, values)
        relations = {name: self.cleaned_data[name] for name in ("customers", "tags")}
        return rule, relations, self.cleaned_data["days"]
