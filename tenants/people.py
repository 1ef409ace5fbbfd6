"""People in the portal: portal admins add staff, set their roles and teams, deactivate
and reactivate them, each change in one transaction with its audit event naming who did
what to whom.

A person is a Django user. Their roles are the role groups of `core.access.Role`; their
teams are the other groups, which the Scopes page can grant customers to (which customers
a person sees is `tenants.scoping`'s, reused here, not repeated). A new person starts with
a password the admin sets, or with none and a set-password link: a signed, single-use
token (Django's password-reset token, which changes once the password does) that expires
after PASSWORD_RESET_TIMEOUT. The link is e-mailed to the person and shown once to the
admin; it is never stored or written to the audit log.

Deactivating keeps the account and its history; the person is signed out at their next
request (Django refuses inactive users' sessions). The portal never leaves itself
without an active portal admin, and an admin cannot deactivate or demote themselves
here. Superusers are Django admin's to change, not these pages'.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from partner_portal.core import second_factor
from partner_portal.core.access import Role
from partner_portal.core.lists import contains_any
from tenants.audit import audit_record
from tenants.models import StaffIdentity

CREATED = "person.created"
ROLES_CHANGED = "person.roles_changed"
DETAILS_CHANGED = "person.details_changed"
DEACTIVATED = "person.deactivated"
REACTIVATED = "person.reactivated"
PASSWORD_LINK = "person.password_link_sent"  # noqa: S105 (an action's name)
SECOND_FACTOR_RESET = "person.second_factor_reset"

logger = logging.getLogger(__name__)

ROLE_NAMES = tuple(role.value for role in Role)


class PersonRefused(ValueError):
    """The change would lock the portal or its admin out, or is Django admin's to make."""


@dataclass(frozen=True)
class Invitation:
    """A new person, and the set-password link when no password was given."""

    user: User
    set_password_url: str = ""
    mailed: bool = False


# --- reading ------------------------------------------------------------------------------
def teams() -> QuerySet[Group]:
    """Groups that are not roles: teams the Scopes page grants customers to."""
    return Group.objects.exclude(name__in=ROLE_NAMES).order_by("name")


def role_groups() -> QuerySet[Group]:
    return Group.objects.filter(name__in=ROLE_NAMES).order_by("name")


def people_list(*, search: str = "", status: str = "", role: str = "") -> QuerySet[User]:
    """Everyone with an account, by user name, for the People page's filters. Each
    carries ``microsoft_object_id`` and ``microsoft_signed_in``: their Entra account's
    object ID and last sign-in with Microsoft, or None for a local account."""
    people = (
        get_user_model()
        .objects.prefetch_related("groups")
        .annotate(
            microsoft_object_id=F("staff_identity__object_id"),
            microsoft_signed_in=F("staff_identity__last_sign_in"),
        )
        .order_by("username", "pk")
    )
    if search:
        people = people.filter(contains_any(search, "username", "first_name", "last_name", "email"))
    if status == "active":
        people = people.filter(is_active=True)
    elif status == "inactive":
        people = people.filter(is_active=False)
    if role:
        # Members of that role's group (a portal admin or superuser holds every role
        # without being listed under each).
        people = people.filter(groups__name=role).distinct()
    return people


def microsoft_account(user: User) -> StaffIdentity | None:
    """The Entra account ``user`` signs in with (staff sign-in), or None: a local account."""
    return StaffIdentity.objects.filter(user_id=user.pk).first()


def roles_of(user: User) -> list[str]:
    """The role groups a person is in, by name (not what being a superuser implies)."""
    return sorted(g.name for g in user.groups.all() if g.name in ROLE_NAMES)


def _active_admins() -> QuerySet[User]:
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.value))
        .distinct()
    )


# --- auditing -----------------------------------------------------------------------------------
def _audit(
    action: str, *, person: User, actor: User, ip_address: str | None, summary: str, **details: Any
) -> None:
    audit_record(
        action=action,
        customer=None,
        actor=actor,
        ip_address=ip_address,
        summary=summary,
        details={"user_id": person.pk, "username": person.get_username(), **details},
    )


def _refuse_superuser(person: User, actor: User) -> None:
    if person.is_superuser and not actor.is_superuser:
        raise PersonRefused(
            f"{person.get_username()} is a superuser: only a superuser changes them, "
            "in Django admin."
        )


# --- writing ------------------------------------------------------------------------------------
def _set_groups(person: User, roles: Iterable[Role], groups: Iterable[Group]) -> None:
    wanted = set(Group.objects.filter(name__in=[r.value for r in roles])) | set(groups)
    person.groups.set(wanted)
    if hasattr(person, "_portal_roles"):
        del person._portal_roles


def set_password_url(person: User) -> str:
    """A link that lets `person` choose a password once (until it changes, or expires)."""
    path = reverse(
        "password_set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(person.pk)),
            "token": default_token_generator.make_token(person),
        },
    )
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _mail_link(person: User, url: str) -> bool:
    """Mail the link to the person; False when they have no address or the server refused
    (the admin still has the link on the page)."""
    if not person.email:
        return False
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    try:
        _send_link(person, url, hours)
    except (OSError, smtplib.SMTPException):
        logger.warning("The set-password mail to user %s was not sent", person.pk)
        return False
    return True


def _send_link(person: User, url: str, hours: int) -> None:
    send_mail(
        subject=f"Your {settings.PARTNER_NAME} portal account",
        message=(
            f"Hello {person.get_full_name() or person.get_username()},\n\n"
            f"An account was made for you on the {settings.PARTNER_NAME} portal. Your user "
            f"name is {person.get_username()}. Choose your password here (the link works "
            f"once, for {hours} hours):\n\n{url}\n"
        ),
        from_email=None,
        recipient_list=[person.email],
    )


@transaction.atomic
def person_create(
    *,
    username: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    roles: Iterable[Role] = (),
    groups: Iterable[Group] = (),
    password: str | None = None,
    created_by: User,
    ip_address: str | None = None,
) -> Invitation:
    """Add a person with `roles` and `teams`; without `password`, mail them a link to set one.

    Raises `ValidationError` for a user name in use or a password Django's rules refuse.
    """
    roles, groups = list(roles), list(groups)
    person = get_user_model()(
        username=username, first_name=first_name, last_name=last_name, email=email
    )
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, person)
        person.set_password(password)
    else:
        person.set_unusable_password()
    person.full_clean()
    person.save()
    _set_groups(person, roles, groups)
    role_names = sorted(r.value for r in roles)
    _audit(
        CREATED,
        person=person,
        actor=created_by,
        ip_address=ip_address,
        summary=(
            f"{created_by.get_username()} added {person.get_username()}"
            f"{f' ({person.get_full_name()})' if person.get_full_name() else ''} with roles "
            f"{', '.join(role_names) or 'none'}"
            + ("" if password else "; a set-password link was made")
        ),
        roles=role_names,
        teams=sorted(g.name for g in groups),
        password="set by the admin" if password else "set-password link",
    )
    if password:
        return Invitation(person)
    url = set_password_url(person)
    mailed = _mail_link(person, url)
    return Invitation(person, url, mailed)


@transaction.atomic
def person_update(
    *,
    person: User,
    first_name: str,
    last_name: str,
    email: str,
    roles: Iterable[Role],
    groups: Iterable[Group],
    changed_by: User,
    ip_address: str | None = None,
) -> list[str]:
    """Set a person's name, address, roles and teams; returns what changed, in words."""
    _refuse_superuser(person, changed_by)
    roles, groups = list(roles), list(groups)
    before_roles = roles_of(person)
    before_teams = sorted(g.name for g in person.groups.all() if g.name not in ROLE_NAMES)
    after_roles = sorted(r.value for r in roles)
    after_teams = sorted(g.name for g in groups)
    if person.pk == changed_by.pk and Role.ADMIN.value in before_roles and Role.ADMIN not in roles:
        raise PersonRefused("You cannot take the portal admin role from yourself.")
    if (
        Role.ADMIN.value in before_roles
        and Role.ADMIN not in roles
        and not _active_admins().exclude(pk=person.pk).exists()
    ):
        raise PersonRefused("The portal needs at least one active portal admin.")
    changed: list[str] = []
    details = {"first_name": first_name, "last_name": last_name, "email": email}
    for field, value in details.items():
        if getattr(person, field) != value:
            changed.append(field.replace("_", " "))
            setattr(person, field, value)
    if changed:
        person.full_clean()
        person.save(update_fields=list(details))
        _audit(
            DETAILS_CHANGED,
            person=person,
            actor=changed_by,
            ip_address=ip_address,
            summary=f"{changed_by.get_username()} changed {person.get_username()}'s "
            + ", ".join(changed),
            changed=changed,
        )
    if (before_roles, before_teams) != (after_roles, after_teams):
        _set_groups(person, roles, groups)
        _audit(
            ROLES_CHANGED,
            person=person,
            actor=changed_by,
            ip_address=ip_address,
            summary=(
                f"{changed_by.get_username()} changed {person.get_username()}'s roles from "
                f"{', '.join(before_roles) or 'none'} to {', '.join(after_roles) or 'none'}"
                + (
                    f" and teams from {', '.join(before_teams) or 'none'} to "
                    f"{', '.join(after_teams) or 'none'}"
                    if before_teams != after_teams
                    else ""
                )
            ),
            roles_before=before_roles,
            roles_after=after_roles,
            teams_before=before_teams,
            teams_after=after_teams,
        )
        changed.append("roles and teams")
    return changed


@transaction.atomic
def person_deactivate(*, person: User, by: User, ip_address: str | None = None) -> None:
    """Stop a person signing in; their sessions end at their next request."""
    _refuse_superuser(person, by)
    if person.pk == by.pk:
        raise PersonRefused("You cannot deactivate your own account.")
    if not person.is_active:
        return
    if person in _active_admins() and not _active_admins().exclude(pk=person.pk).exists():
        raise PersonRefused("The portal needs at least one active portal admin.")
    person.is_active = False
    person.save(update_fields=["is_active"])
    _audit(
        DEACTIVATED,
        person=person,
        actor=by,
        ip_address=ip_address,
        summary=f"{by.get_username()} deactivated {person.get_username()}",
    )


@transaction.atomic
def person_reactivate(*, person: User, by: User, ip_address: str | None = None) -> None:
    """Let a deactivated person sign in again, with the roles and scopes they had."""
    _refuse_superuser(person, by)
    if person.is_active:
        return
    person.is_active = True
    person.save(update_fields=["is_active"])
    _audit(
        REACTIVATED,
        person=person,
        actor=by,
        ip_address=ip_address,
        summary=f"{by.get_username()} reactivated {person.get_username()}",
    )


@transaction.atomic
def person_password_link(*, person: User, by: User, ip_address: str | None = None) -> Invitation:
    """A new set-password link for `person` (mailed when they have an address)."""
    _refuse_superuser(person, by)
    if not person.is_active:
        raise PersonRefused(f"{person.get_username()} is deactivated: reactivate them first.")
    url = set_password_url(person)
    mailed = _mail_link(person, url)
    _audit(
        PASSWORD_LINK,
        person=person,
        actor=by,
        ip_address=ip_address,
        summary=f"{by.get_username()} made a set-password link for {person.get_username()}"
        + (" and mailed it" if mailed else ""),
        mailed=mailed,
    )
    return Invitation(person, url, mailed)


@transaction.atomic
def person_second_factor_reset(*, person: User, by: User, ip_address: str | None = None) -> bool:
    """Remove a person's authenticator app (they lost it); whether they had one."""
    _refuse_superuser(person, by)
    if not second_factor.reset(user=person):
        return False
    _audit(
        SECOND_FACTOR_RESET,
        person=person,
        actor=by,
        ip_address=ip_address,
        summary=f"{by.get_username()} reset {person.get_username()}'s two-step sign-in",
    )
    return True


def check_username(username: str) -> None:
    """Raises `ValidationError` when the user name is taken (case aside)."""
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise ValidationError("That user name is taken.")
