"""A local HTTPS stand-in for Microsoft Entra ID and the Defender APIs.

Run it with ``python -m partner_portal.sandbox``; it serves the identity platform's
discovery, token and admin-consent endpoints and the Defender for Endpoint alerts and
Defender XDR incidents APIs for a set of fictional customer tenants, so that the portal,
its tests and its benchmarks can run without reaching Microsoft. It never imports Django.
"""
