"""Who may open which page: the portal's roles and the decorators every view carries.

Each view is wrapped by exactly one of `public`, `signed_in` or `require_roles`, which
also records the rule on the view as `access_policy`, so a test can prove that no URL
was left without one. A view behind `signed_in` or `require_roles` may declare its request
as `AuthenticatedHttpRequest`: its user is then typed as a signed-in user.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from partner_portal.core.http import made_by_a_page

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])

SIGNED_OUT_WORDS = "You are signed out. Open the page again to sign in."


class Role(StrEnum):
    """The portal's groups, created by data migrations. A SOC lead is an analyst (seeing
    the customers of their scope) who may also change routing policies and suppression
    rules for those customers."""

    ONBOARDING = "Onboarding staff"
    ANALYST = "Analysts"
    SOC_LEAD = "SOC leads"
    ADMIN = "Portal admins"


class AuthenticatedHttpRequest(HttpRequest):
    """The request a view behind `signed_in` or `require_roles` receives, for typing only:
    the decorators have already sent anonymous users to the sign-in page."""

    user: User


def user_roles(user: User | AnonymousUser) -> frozenset[Role]:
    """The roles a user holds; a superuser and a portal admin hold every role, and a SOC
    lead is an analyst too.

    They are worked out once per user object (a request's user) and kept on it.
    """
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, "_portal_roles", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = frozenset(Role)
    else:
        names = set(user.groups.values_list("name", flat=True))
        roles = frozenset(role for role in Role if role.value in names)
        if Role.ADMIN in roles:
            roles = frozenset(Role)
        elif Role.SOC_LEAD in roles:
            roles |= {Role.ANALYST}
    user._portal_roles = roles  # type: ignore[attr-defined]
    return roles


def has_role(user: User | AnonymousUser, *roles: Role) -> bool:
    return bool(user_roles(user) & set(roles))


def access_policy_of(view: Callable[..., Any]) -> str | None:
    """The rule a view's decorator recorded ("public", "signed-in", the roles), also for a
    class-based view's `as_view()` function; None for a view without one (Django's own)."""
    policy = getattr(view, "access_policy", None) or getattr(
        getattr(view, "view_class", None), "access_policy", None
    )
    return policy if isinstance(policy, str) else None


def _to_sign_in(request: HttpRequest) -> HttpResponse:
    """An anonymous request: a page opened goes to the sign-in page; a page's own request
    is answered 401 in words, since nobody would read the sign-in page it was sent to
    (and rendering it would use up a message kept for the person, such as why they were
    signed out)."""
    if made_by_a_page(request):
        return HttpResponse(SIGNED_OUT_WORDS, status=401, content_type="text/plain")
    return redirect_to_login(request.get_full_path())


def public(view: ViewFunc) -> ViewFunc:
    """Open to anyone, signed in or not (health check, the customer admin's pages)."""
    view.access_policy = "public"  # type: ignore[attr-defined]
    return view


def signed_in(view: ViewFunc) -> ViewFunc:
    """Any signed-in portal user, whatever their role."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _to_sign_in(request)
        return view(request, *args, **kwargs)

    wrapper.access_policy = "signed-in"  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def require_roles(*roles: Role) -> Callable[[ViewFunc], ViewFunc]:
    """Signed in and holding one of `roles`; anonymous users go to the sign-in page."""

    def decorate(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _to_sign_in(request)
            if not has_role(request.user, *roles):
                raise PermissionDenied("This page needs the role: " + " or ".join(roles))
            return view(request, *args, **kwargs)

        wrapper.access_policy = "roles:" + ",".join(sorted(r.value for r in roles))  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
