"""The People pages' forms: filters, a person's details, roles and teams, and a scope."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.contrib.auth.validators import UnicodeUsernameValidator

from partner_portal.core.access import Role
from tenants import people
from tenants.models import Customer

ROLE_CHOICES = [(role.value, role.value) for role in Role]
ROLE_HELP = {
    Role.ANALYST.value: "see and act on the alerts of the customers in their scope",
    Role.SOC_LEAD.value: (
        "analysts who may also change routing policies and suppression rules, for the "
        "customers in their scope"
    ),
    Role.ONBOARDING.value: "register customers and send consent links",
    Role.ADMIN.value: "everything, including people, scopes and the audit log",
}


class PersonFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=150)
    status = forms.ChoiceField(
        choices=[("", "Active and deactivated"), ("active", "Active"), ("inactive", "Deactivated")],
        required=False,
    )
    role = forms.ChoiceField(choices=[("", "Any role"), *ROLE_CHOICES], required=False)


class PersonForm(forms.Form):
    """A person's name, address, roles and teams (and, for a new person, user name and
    how they get a password)."""

    username = forms.CharField(
        label="User name",
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="What they sign in with: letters, digits and @ . + - _ only.",
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    email = forms.EmailField(label="E-mail", required=False)
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=people.teams(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Groups the Scopes page can grant customers to; create them in Django admin.",
    )
    password_by = forms.ChoiceField(
        label="Password",
        choices=[
            ("link", "Send a link to choose one (by e-mail, and shown to you once)"),
            ("set", "Set an initial password now"),
        ],
        initial="link",
        widget=forms.RadioSelect,
    )
    password1 = forms.CharField(
        label="Initial password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Initial password again",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        roles: Any = self.fields["roles"]
        roles.choices = [(value, f"{label} — {ROLE_HELP[value]}") for value, label in ROLE_CHOICES]
        teams: Any = self.fields["teams"]
        teams.queryset = people.teams()
        if not creating:
            for name in ("username", "password_by", "password1", "password2"):
                del self.fields[name]

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"])
        people.check_username(username)
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.creating:
            return data
        if data.get("password_by") == "set":
            if not data.get("password1"):
                self.add_error("password1", "Enter the initial password, or send a link instead.")
            elif data.get("password1") != data.get("password2"):
                self.add_error("password2", "The two passwords differ.")
        elif not data.get("email"):
            self.add_error("email", "A link is sent by e-mail: enter their address.")
        return data

    def chosen_roles(self) -> list[Role]:
        return [Role(value) for value in self.cleaned_data.get("roles", [])]


class PersonScopeForm(forms.Form):
    """Let this person see one customer, or (explicitly) every customer."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        empty_label="— choose a customer —",
    )
    all_customers = forms.BooleanField(
        label="All customers (an explicit grant of everything)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        customer: Any = self.fields["customer"]
        customer.queryset = Customer.objects.order_by("display_name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("customer")) == bool(data.get("all_customers")):
            raise forms.ValidationError("Choose either one customer or “All customers”.")
        return data
