"""Typed, immutable views of what the Defender APIs send: alerts and incidents.

Every record is checked field by field against the types Microsoft documents, its
timestamps converted to aware UTC datetimes, and its JSON object kept whole in ``raw``
so that fields Microsoft adds later are not lost. What cannot be read raises
:class:`~partner_portal.defender.errors.MalformedResponse`; a value outside a known
vocabulary is kept as sent and named in ``unknown_values``.

* :mod:`.vocabularies`: the enum values of alerts and incidents with the portal's
  labels for them, defined once;
* :mod:`.reading`: the careful field-by-field reading every parser shares, made of the
  value readers the Graph records use too (:mod:`..fields`, :mod:`..timestamps`, whose
  ``parse_timestamp`` and ``format_timestamp`` this package passes on);
* :mod:`.table`: field tables, and the careful and quick readings made of one;
* :mod:`.alerts`: Defender for Endpoint alerts, with a quick path for whole pages;
* :mod:`.incidents`: Defender XDR incidents and the alerts they embed.
"""

from __future__ import annotations

from ..timestamps import format_timestamp, parse_timestamp
from . import vocabularies
from .alerts import (
    ALERT_FIELDS,
    AlertComment,
    AlertRecord,
    RelatedUser,
    parse_alert,
    parse_alert_page,
)
from .incidents import IncidentAlert, IncidentRecord, parse_incident

# Every vocabulary, as ``vocabularies.__all__`` lists them: a new one is named there only.
from .vocabularies import *  # noqa: F403

__all__ = [
    "ALERT_FIELDS",
    "AlertComment",
    "AlertRecord",
    "IncidentAlert",
    "IncidentRecord",
    "RelatedUser",
    "format_timestamp",
    "parse_alert",
    "parse_alert_page",
    "parse_incident",
    "parse_timestamp",
]
__all__ += vocabularies.__all__
