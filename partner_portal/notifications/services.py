"""Every change to notification settings, in one place: channels, policies, tags, and
the channel test. Each runs in one transaction with its audit event. Audit events name
what changed, never a URL or a secret."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from partner_portal.notifications import delivery
from partner_portal.notifications.models import (
    Channel,
    CustomerTag,
    Notification,
    Policy,
)
from tenants.audit import audit_record
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Fields of a channel that hold secrets: saved when given, kept when left empty.
SECRET_FIELDS = ("url", "signing_secret")


@transaction.atomic
def channel_save(*, channel: Channel, secrets: dict[str, str], actor: User) -> Channel:
    """Create or change a channel. A secret given in `secrets` replaces the stored one;
    one left out (or empty) is kept."""
    created = channel.pk is None
    for name, value in secrets.items():
        if name in SECRET_FIELDS and value:
            setattr(channel, name, value)
    channel.full_clean()
    channel.save()
    changed = sorted(name for name, value in secrets.items() if value)
    audit_record(
        action="notifications.channel_created" if created else "notifications.channel_changed",
        customer=None,
        actor=actor,
        summary=f"{'Created' if created else 'Changed'} notification channel {channel.name}",
        details={"channel_id": channel.pk, "kind": channel.kind, "secrets_set": changed},
    )
    return channel


def channel_send_test(*, channel: Channel, actor: User) -> Notification:
    """Send a test message to `channel` now; the row holds how it went."""
    with transaction.atomic():
        notification = Notification.objects.create(
            dedup_key=f"test:{channel.pk}:{uuid.uuid4().hex}", channel=channel, is_test=True
        )
        audit_record(
            action="notifications.channel_tested",
            customer=None,
            actor=actor,
            summary=f"Sent a test to notification channel {channel.name}",
            details={"channel_id": channel.pk},
        )
    outcome = delivery.deliver(notification_id=notification.pk)
    if outcome.retry_in is not None:
        from partner_portal.notifications import tasks

        tasks.deliver_notification.apply_async((notification.pk,), countdown=outcome.retry_in)
    notification.refresh_from_db()
    return notification


@transaction.atomic
def policy_save(*, policy: Policy, relations: dict[str, Any], actor: User) -> Policy:
    """Create or change a policy; `relations` holds its customers, tags and channels.
    A new policy without a position goes last."""
    created = policy.pk is None
    if created and not policy.position:
        last = Policy.objects.aggregate(last=Max("position"))["last"]
        policy.position = (last or 0) + 10
    policy.full_clean()
    policy.save()
    for name in ("customers", "tags", "channels"):
        if name in relations:
            getattr(policy, name).set(relations[name])
    audit_record(
        action="notifications.policy_created" if created else "notifications.policy_changed",
        customer=None,
        actor=actor,
        summary=f"{'Created' if created else 'Changed'} notification policy {policy.name}",
        details={"policy_id": policy.pk, "position": policy.position},
    )
    return policy


@transaction.atomic
def policy_move(*, policy: Policy, up: bool, actor: User) -> None:
    """Swap a policy with its neighbour above (or below), renumbering all in steps of 10."""
    ordered = list(Policy.objects.select_for_update().order_by("position", "pk"))
    index = next(i for i, p in enumerate(ordered) if p.pk == policy.pk)
    other = index - 1 if up else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        if item.position != position * 10:
            item.position = position * 10
            item.save(update_fields=["position"])
    audit_record(
        action="notifications.policy_moved",
        customer=None,
        actor=actor,
        summary=f"Moved notification policy {policy.name} {'up' if up else 'down'}",
        details={"policy_id": policy.pk},
    )


@transaction.atomic
def tag_create(*, name: str, actor: User) -> CustomerTag:
    tag = CustomerTag(name=name.strip())
    tag.full_clean()
    tag.save()
    audit_record(
        action="notifications.tag_created",
        customer=None,
        actor=actor,
        summary=f"Created customer tag {tag.name}",
        details={"tag_id": tag.pk},
    )
    return tag


@transaction.atomic
def customer_tags_set(*, customer: Customer, tags: list[CustomerTag], actor: User) -> None:
    """Give `customer` exactly `tags`; policies on those tags cover it from now on."""
    before = set(customer.notification_tags.values_list("name", flat=True))
    customer.notification_tags.set(tags)
    after = {tag.name for tag in tags}
    audit_record(
        action="notifications.customer_tags_set",
        customer=customer,
        actor=actor,
        summary=f"Tags of {customer.display_name}: {', '.join(sorted(after)) or 'none'}",
        details={"added": sorted(after - before), "removed": sorted(before - after)},
    )
