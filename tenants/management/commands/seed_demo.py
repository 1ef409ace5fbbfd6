"""Onboard sandbox tenants as demo customers, through the real consent flow over HTTP.

The last `--legacy` of the activated customers consent as a customer did before the
partner app asked for Microsoft Graph: to the Defender for Endpoint and XDR APIs only.
They stay on those APIs (banner, "legacy API" marks, re-consent link) until their admin
follows a new consent link; the sandbox's app then asks for Graph too, as a partner app
that has added the Graph permissions does, so that consent moves the customer to Graph.

Staff also sign in with Microsoft, at the sandbox's partner tenant: its groups give the
roles (SOC analysts: Analysts and the team "SOC analysts", which is granted the demo
customers here), and the accounts are listed in ``data/demo-microsoft-staff.txt``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from partner_portal.core.access import Role
from tenants.demo import DemoFlowError, PortalDriver
from tenants.models import AnalystScope, Customer

DEMO_STAFF = "onboarding"
SOC_TEAM = "SOC analysts"  # the team the sandbox's SOC group gives (partner_directory.py)


def _microsoft_staff(config: dict[str, Any], customers: list[int]) -> list[str]:
    """Grant the SOC team the demo customers; describe the partner tenant's staff."""
    partner = config.get("partner_tenant")
    if not partner:
        return []
    team, _ = Group.objects.get_or_create(name=SOC_TEAM)
    for customer_id in customers:
        AnalystScope.objects.get_or_create(group=team, customer_id=customer_id)
    roles = {
        g["display_name"]: g["portal_role"].replace("|", " + team ") for g in partner["groups"]
    }
    lines = []
    for user in partner["users"]:
        gives = "; ".join(roles[g] for g in user["groups"] if roles.get(g)) or "refused"
        # With STAFF_SIGNIN_AUTH_CONTEXT set, the sandbox asks for the second factor.
        factor = "has a second factor" if user["mfa"] else "no second factor"
        lines.append(f"{user['upn']}  groups: {', '.join(user['groups']) or 'none'}  "
                     f"({factor}) -> {gives}")  # fmt: skip
    path = Path(settings.DATA_DIR) / "demo-microsoft-staff.txt"
    path.write_text(
        "Sign in with Microsoft (the sandbox's partner tenant; no password is asked):\n"
        + "\n".join(lines) + "\n"
    )  # fmt: skip
    path.chmod(0o600)
    return lines


def _demo_staff_credentials() -> tuple[str, str]:
    """The demo onboarding account (created once; password kept in the data folder)."""
    path = Path(settings.DATA_DIR) / "demo-onboarding.txt"
    user_model = get_user_model()
    if path.exists() and user_model.objects.filter(username=DEMO_STAFF).exists():
        username, password = path.read_text().split()[:2]
        return username, password
    password = secrets.token_urlsafe(12)
    user, _ = user_model.objects.get_or_create(username=DEMO_STAFF)
    user.set_password(password)
    user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=Role.ONBOARDING.value))
    path.write_text(f"{DEMO_STAFF}\n{password}\n")
    path.chmod(0o600)
    return DEMO_STAFF, password


def _consent_scope(config: dict[str, Any], tenant_id: str, scope: str) -> None:
    """Tell the sandbox which APIs its app asks this tenant to consent to."""
    session = requests.Session()
    session.trust_env = False
    url = f"{config['login_url'].rstrip('/')}/_sandbox/tenants/{tenant_id}/consent-scope"
    response = session.put(url, json={"scope": scope}, verify=config["ca_file"], timeout=30)
    if response.status_code != 200:
        raise CommandError(f"The sandbox refused consent scope {scope!r} ({response.status_code}).")


class Command(BaseCommand):
    help = (
        "Register sandbox tenants as customers and consent for them through the portal's "
        "own pages (the portal must be running)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=3, help="customers to activate")
        parser.add_argument("--pending", type=int, default=1, help="customers left pending")
        parser.add_argument(
            "--legacy",
            type=int,
            default=1,
            help="activated customers left on the legacy Defender APIs (to re-consent)",
        )
        parser.add_argument("--portal-url", default=settings.PUBLIC_BASE_URL)
        parser.add_argument("--timeout", type=float, default=90)

    def handle(self, *args: Any, **options: Any) -> None:
        config_file = Path(settings.SANDBOX_CONFIG_FILE)
        if settings.PARTNER_APP_CLIENT_ID or not config_file.exists():
            raise CommandError("seed_demo needs the sandbox (no partner app configured).")
        config = json.loads(config_file.read_text())
        bound = set(Customer.objects.exclude(tenant_id=None).values_list("tenant_id", flat=True))
        named = set(Customer.objects.values_list("display_name", flat=True))
        tenants = [
            t for t in config["tenants"]
            if t["tenant_id"] not in bound and t["name"] not in named
        ]  # fmt: skip
        wanted = options["customers"] + options["pending"]
        if len(tenants) < wanted:
            raise CommandError(
                f"The sandbox has {len(tenants)} tenants not yet onboarded; {wanted} are needed."
            )
        driver = PortalDriver(options["portal_url"])
        legacy_from = options["customers"] - max(0, min(options["legacy"], options["customers"]))
        try:
            driver.sign_in(*_demo_staff_credentials())
            activated = []
            for index, tenant in enumerate(tenants[:wanted]):
                customer_id, link = driver.register(
                    tenant["name"],
                    contact_name="Global administrator",
                    contact_email=tenant["admin_user"],
                    expected_tenant=tenant["tenant_id"],
                )
                if index >= options["customers"]:
                    self.stdout.write(
                        f"Registered {tenant['name']}, left pending consent. Its admin's link "
                        f"(open it in any browser, sign in as {tenant['admin_user']}): {link}"
                    )
                    continue
                legacy = index >= legacy_from
                if legacy:
                    _consent_scope(config, tenant["tenant_id"], "defender")
                result = driver.consent(link, admin_user=tenant["admin_user"],
                                        ca_file=config["ca_file"])  # fmt: skip
                if legacy:
                    # The app asks for Graph again; the consent given above stays as it is.
                    _consent_scope(config, tenant["tenant_id"], "both")
                if result.status_code != 200:
                    raise CommandError(
                        f"Consent for {tenant['name']} failed ({result.status_code})."
                    )
                activated.append((customer_id, tenant["name"], legacy))
            for customer_id, name, legacy in activated:
                status = driver.wait_for_status(
                    customer_id, ("active", "missing_permissions", "error"),
                    timeout=options["timeout"],
                )  # fmt: skip
                note = " (legacy API: its admin must consent again for Microsoft Graph)"
                self.stdout.write(f"{name}: {status}{note if legacy else ''}")
                if status == "error":
                    raise CommandError(f"Verification of {name} failed; see its customer page.")
        except DemoFlowError as exc:
            raise CommandError(f"The demo flow stopped: {exc}") from exc
        staff = _microsoft_staff(config, [customer_id for customer_id, _, _ in activated])
        if staff:
            self.stdout.write("Staff who sign in with Microsoft (data/demo-microsoft-staff.txt):")
            for line in staff:
                self.stdout.write(f"  {line}")
