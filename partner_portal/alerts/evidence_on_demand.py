"""Evidence fetched when an analyst opens an alert that was stored without it.

The Defender for Endpoint API sends an alert's evidence only when asked
(`$expand=evidence`), and the sync asks only for new alerts of the severities in
SYNC_EVIDENCE_SEVERITIES, to spare calls. So a Low or Informational alert — or one stored
before those settings changed — may have none on file. When its page is opened,
`request_evidence` queues one fetch (a task, after the request; at most one per alert
every EVIDENCE_FETCH_COOLDOWN_SECONDS, kept in the shared cache), the page says the
evidence is on its way and its script asks `evidence_state` until it has arrived, then
reloads the page. `fetch_evidence` asks Defender for that one alert with its evidence
and stores it through the sync's own upsert, so the row changes exactly as a sync would
change it. Graph alerts always come with their evidence and are never fetched again.

The outcome is kept in the cache for the page to read: "ready", "none" (Defender has no
evidence for it) or "failed" with the words of `core/failures.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.core.failures import describe_failure
from partner_portal.defender import DefenderError
from tenants import microsoft

logger = logging.getLogger(__name__)

PENDING, READY, NONE, FAILED = "pending", "ready", "none", "failed"
_KEY = "alerts:evidence-fetch:{pk}"


@dataclass(frozen=True)
class EvidenceState:
    state: str  # PENDING, READY, NONE or FAILED
    words: str = ""


def wants_evidence(alert: Alert) -> bool:
    """Whether opening `alert` should fetch its evidence: a legacy API alert without it."""
    return not alert.has_evidence and not alert.from_graph and bool(alert.customer.tenant_id)


def evidence_state(alert: Alert) -> EvidenceState:
    """Where the fetch for `alert` stands (READY once the row holds evidence)."""
    if alert.has_evidence:
        return EvidenceState(READY)
    kept = cache.get(_KEY.format(pk=alert.pk))
    if isinstance(kept, dict) and kept.get("state") in (PENDING, NONE, FAILED):
        return EvidenceState(kept["state"], str(kept.get("words", "")))
    return EvidenceState(NONE)


def request_evidence(*, alert: Alert) -> EvidenceState:
    """Queue one fetch of `alert`'s evidence unless one ran or runs within the cooldown."""
    if not wants_evidence(alert):
        return evidence_state(alert)
    key = _KEY.format(pk=alert.pk)
    if cache.add(key, {"state": PENDING}, timeout=settings.EVIDENCE_FETCH_COOLDOWN_SECONDS):
        from partner_portal.alerts.tasks import fetch_alert_evidence

        pk = alert.pk
        transaction.on_commit(lambda: fetch_alert_evidence.delay(pk))
        return EvidenceState(PENDING)
    return evidence_state(alert)


def _keep(pk: int, state: str, words: str = "") -> None:
    cache.set(
        _KEY.format(pk=pk),
        {"state": state, "words": words},
        timeout=settings.EVIDENCE_FETCH_COOLDOWN_SECONDS,
    )


def fetch_evidence(*, alert_pk: int) -> str:
    """Ask Defender for one alert with its evidence and store it; never raises."""
    alert = Alert.objects.select_related("customer").filter(pk=alert_pk).first()
    if alert is None or not wants_evidence(alert):
        return READY if alert is not None and alert.has_evidence else NONE
    try:
        client = microsoft.mde_client(alert.customer, token_sources=None)
        records = list(client.iter_alerts_by_id([alert.alert_id], expand_evidence=True))
        with_evidence = [record for record in records if record.evidence]
        if with_evidence:
            alerts_upsert(customer_id=alert.customer_id, records=with_evidence)
    except Exception as exc:  # every failure must reach the page, in words
        failure = describe_failure(exc)
        if not isinstance(exc, DefenderError):
            logger.exception("Evidence for alert %s failed unexpectedly", alert.pk)
        logger.warning("Evidence for alert %s not fetched: %s", alert.pk, failure.code)
        _keep(alert.pk, FAILED, failure.words)
        return FAILED
    state = READY if with_evidence else NONE
    _keep(alert.pk, state)
    return state
