"""Partner Portal: one place for an MSSP to watch the Defender alerts of all its customers.

The Celery app is loaded by the core app's `ready()` (and by `celery -A partner_portal`),
not here, so that the sandbox and the protocol core can be imported without Django.
"""
