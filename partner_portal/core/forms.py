"""The sign-in, password and settings forms, with the portal's words."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from partner_portal.core.http import client_ip
from partner_portal.core.preferences import portal_zone_name, zone_names
from partner_portal.core.signin_throttle import local_password_allowed, throttle

PAUSED = "paused"
LOCAL_OFF = "local_passwords_off"


class SignInForm(AuthenticationForm):
    """User name and password; while failed sign-ins have paused this account from this
    address (or the address), says until when instead of checking the password. With
    LOCAL_PASSWORDS off, refuses every account but the break-glass ones, in words."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your user name and password did not match. Try again.",
        "inactive": "This account is deactivated. Ask a portal admin.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and not local_password_allowed(username):
            raise forms.ValidationError(
                "Passwords are switched off on this portal: use Sign in with Microsoft. "
                "Only the break-glass accounts sign in with a password.",
                code=LOCAL_OFF,
            )
        self._refuse_if_paused()
        try:
            return super().clean()
        except forms.ValidationError:
            # This failure may be the one that starts a pause: say so at once.
            self._refuse_if_paused()
            raise

    def _refuse_if_paused(self) -> None:
        username = self.cleaned_data.get("username")
        if self.request is None or not username:
            return
        gate = throttle()
        pause = gate.pause_for(username=username, address=client_ip(self.request))
        if pause is not None:
            raise forms.ValidationError(pause.wording(gate.now()), code=PAUSED)


class PreferenceForm(forms.Form):
    """A person's own time zone ("" keeps the portal's)."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Every time the portal shows you is in this zone, with the zone named.",
        error_messages={"invalid_choice": "“%(value)s” is not a time zone the portal knows."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        portal = f"The portal's zone ({portal_zone_name()})"
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", portal), *((name, name) for name in zone_names())]
