"""The alerts and incidents a user may see: the one door to this app's customer data.

Who may see which customer is decided by tenants (`tenants.scoping`); this module only
applies that rule to the alerts app's own tables. Every read for a person starts here:
the alert list, its counts, charts, exports and live updates, the alert and incident
pages, write-back's choice of alerts. A row outside the scope is therefore never read,
and a page asked for one answers "not found". Rows reached from a visible row (the
other alerts of its incident or device) belong to the same customer.

`tests/alerts/test_visibility.py` checks that each read in `reads/` taking a user comes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from partner_portal.alerts.models import Alert, Incident
from tenants.scoping import restrict

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def visible_alerts(*, user: User | AnonymousUser) -> QuerySet[Alert]:
    """Every alert `user` may see, unordered."""
    return restrict(Alert.objects.all(), user)


def visible_incidents(*, user: User | AnonymousUser) -> QuerySet[Incident]:
    """Every incident `user` may see, unordered."""
    return restrict(Incident.objects.all(), user)
