"""What happens to local accounts, announced for the apps that record it.

The core knows no app (tests/test_architecture.py); the audit trail lives in `tenants`,
which connects its receivers to these signals (tenants/account_audit.py).
"""

from __future__ import annotations

from django.dispatch import Signal

# Failed sign-ins paused further ones. Sent with `username` (as typed), `address`,
# `scope` ("account": that account from that address; "address": the whole address),
# `failures` (how many it took) and `until` (an aware datetime).
sign_in_paused = Signal()

# A signed-in user changed their own password. Sent with `user` and `address`.
password_changed = Signal()

# A signed-in user turned their second factor on (`enrolled=True`) or off. Sent with
# `user`, `address` and `enrolled`; never the secret or a code.
second_factor_changed = Signal()
