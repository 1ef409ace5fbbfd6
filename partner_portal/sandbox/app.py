"""The sandbox's application: the runtime switches shared by every service (call counts,
faults, rate limits), the services themselves, and their routes.

Requests come in through ``server.py`` (HTTPS) and go to :meth:`SandboxApp.handle`, which
asks the :class:`routing.Router`; those of the plain-HTTP loopback listener go to
:meth:`SandboxApp.handle_browser`, which answers the consent and sign-in pages alone.
Each service registers its own routes:

- ``/_sandbox/…``: the control API (``control.py``), loopback only;
- ``/api/…``: the Defender APIs' gate (``api.py``), into which every module of
  :data:`API_MODULES` registers its routes (and any control-API routes it needs);
- the identity platform's paths: discovery and keys (``identity.py``), the token
  endpoints (``client_tokens.py``, with ``codes.py`` adding the authorization code
  grant), admin consent (``consent.py``) and the OpenID Connect sign-in (``signin.py``).

An API is added as a module with a ``register(app)`` function, listed in
:data:`API_MODULES`. A family of APIs under another prefix (Microsoft Graph's
``/v1.0/``) mounts its own gate on the router the same way ``DefenderApi`` is mounted.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    alerts_api,
    directory_api,
    graph_alerts_api,
    graph_incidents_api,
    hunting_api,
    incidents_api,
)
from .api import DefenderApi
from .client_tokens import TokenEndpoint
from .codes import AuthorizationCodes
from .consent import ConsentFlow
from .control import ControlApi
from .faults import Faults, profile
from .graph_data import GraphData
from .graph_gate import GraphApi
from .identity import Identity
from .limits import RateLimiter, Stats
from .routing import Router
from .signin import SignInFlow
from .state import Sandbox
from .token_check import TokenCheck
from .web import Request, Response

# Modules serving APIs; each has ``register(app: SandboxApp) -> None``.
API_MODULES: tuple[ModuleType, ...] = (
    alerts_api,
    incidents_api,
    graph_alerts_api,
    graph_incidents_api,
    hunting_api,
    directory_api,
)


class SandboxApp:
    """Builds the services around one :class:`state.Sandbox` and routes requests to them."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.stats = Stats()
        self.faults = Faults(sandbox.seed, profile(sandbox.options.faults))
        self.limiter = RateLimiter(enabled=sandbox.options.rate_limit)
        self.router = Router()

        self.identity = Identity(sandbox)
        self.tokens = TokenEndpoint(sandbox, self.identity, self.faults, self.stats)
        self.codes = AuthorizationCodes(sandbox, self.identity, self.tokens)
        self.consent = ConsentFlow(sandbox, self.codes)
        self.signin = SignInFlow(sandbox, self.identity, self.codes, self.consent)
        self.token_check = TokenCheck(sandbox)
        self.control = ControlApi(sandbox, self.identity, self.faults, self.limiter, self.stats)
        self.defender = DefenderApi(
            sandbox, self.token_check, self.faults, self.limiter, self.stats
        )

        # Microsoft Graph's security API under /v1.0/, with its own gate and data view.
        self.graph = GraphApi(sandbox, self.token_check, self.faults, self.limiter, self.stats)
        self.graph_data = GraphData(sandbox.seed, sandbox.state_dir)

        self.router.mount(ControlApi.PREFIX, self.control.handle)
        self.router.mount(GraphApi.PREFIX, self.graph.handle)
        self.router.mount(DefenderApi.PREFIX, self.defender.handle)
        for service in (self.identity, self.tokens, self.consent, self.signin):
            service.register(self.router)
        for module in API_MODULES:
            module.register(self)

    def handle(self, request: Request) -> Response:
        return self.router.handle(request)

    def handle_browser(self, request: Request) -> Response:
        """The plain-HTTP loopback listener's answers: the consent and sign-in pages only."""
        return self.router.handle_browser(request)
