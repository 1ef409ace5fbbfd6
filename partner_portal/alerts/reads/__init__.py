"""The analysts' console's reads, one module per page or capability they serve.

- `alert_list`: the consolidated alert list: the filter every list-derived read shares,
  one page of rows, its counts and its live updates (and the mark they start from).
- `incident_queue`: the incident queue: its filter, pages, counts and live updates.
- `keyset`: the sort orders of both lists and the keyset cursors their pages are cut with.
- `exports`: the filtered alerts, or the queue's incidents, as CSV/JSON rows.
- `charts`: the chart page's figures for the filtered alerts.
- `alert_detail`: one alert with its incident, device, comments and evidence, and the
  alerts a bulk change may touch.
- `incidents`: one incident with its alerts.
- `health`: each customer's sync health and API budget.
- `defender_links`: deep links into the customer's Defender portal.

Every read that returns customer rows starts from `partner_portal.alerts.visibility`
(alerts, incidents) or `tenants.scoping` (customers), so what a person sees is what their
scope allows; `tests/alerts/test_visibility.py` holds each read taking a user to that.
Changes go through services (`partner_portal.alerts.writeback`), never through here.
"""
