"""What functions need from the network, said by any plugin and built by the network's provider.

A plugin never names the network plugin: it asks through the published ``keys.NETWORK`` value --

* ``network.require_service(ctx, "lambda")``: functions in this environment call that AWS service,
  so the private subnets need its interface endpoint (private DNS on, HTTPS from the functions);
* ``platform_function(..., egress=Egress(ports=(443,), hosts=("hooks.example.com",)))`` (which
  calls ``network.require_egress``): that one function reaches the internet on those ports.

Requests are taken in the foundation, resources and wiring phases; the provider reads them in
``finalize`` (phases, not ordering: every request is in by then, whichever plugin ran first) and
builds only what was asked, so an environment asking nothing synthesizes as before. A request
made in ``finalize`` is refused, naming the plugin: it could come after the provider's turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from payments_platform.core.errors import RegistrationError

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext

REQUEST_PHASES = ("foundation", "resources", "wiring")
# An interface endpoint's service name after com.amazonaws.<region>. (e.g. lambda, secretsmanager, ecr.api)
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
# The tags a function with declared egress carries (its deployed configuration says what it may reach).
EGRESS_PORTS_TAG = "egress-ports"
EGRESS_HOSTS_TAG = "egress-hosts"


@dataclass(frozen=True)
class Egress:
    """A function's declared need to reach the internet (``platform_function(..., egress=...)``).

    ``ports`` are the TCP ports it connects to (its security group allows exactly these, to any
    address). ``hosts`` name whom it calls, for people and the synth check (a URL setting on a
    host not listed is reported): a security group filters addresses, not names, so hosts are
    documentation unless the network's provider filters by name (docs/PLUGIN_AUTHORS.md, "Egress")."""

    # TCP ports reached, e.g. (443,)
    ports: tuple[int, ...] = (443,)
    # host names called, e.g. ("hooks.example.com",); "*.example.com" for a domain
    hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.ports:
            raise RegistrationError("Egress(ports=...) names no port: say which TCP ports the function reaches")
        for port in self.ports:
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise RegistrationError(f"Egress port {port!r} is not a TCP port (1..65535)")
        for host in self.hosts:
            if not isinstance(host, str) or not _HOST.match(host):
                raise RegistrationError(f"Egress host {host!r} is not a host name (e.g. hooks.example.com)")
        object.__setattr__(self, "ports", tuple(sorted(set(self.ports))))
        object.__setattr__(self, "hosts", tuple(sorted(set(self.hosts))))

    def tags(self) -> dict[str, str]:
        """What the function is tagged with: its declared ports and hosts (space-separated)."""
        return {
            EGRESS_PORTS_TAG: " ".join(str(port) for port in self.ports),
            **({EGRESS_HOSTS_TAG: " ".join(self.hosts)} if self.hosts else {}),
        }


@dataclass(frozen=True)
class EgressNeed:
    """One function's egress request, as the network's provider reads it."""

    plugin: str
    # the keys.Function (its resource is placed in the egress subnets)
    function: Any
    egress: Egress

    @property
    def key(self) -> str:
        return str(self.function.key or self.function.physical_name)


@dataclass
class NetworkNeeds:
    """The requests made of one build's network (held by its ``keys.Network``)."""

    _services: dict[str, set[str]] = field(default_factory=dict)
    _egress: dict[str, EgressNeed] = field(default_factory=dict)
    # Where the provider placed egress functions (references): private subnets too, for the
    # private-subnet rule (PP-LAMBDA-PRIVATE-SUBNETS).
    egress_subnet_ids: tuple[str, ...] = ()

    def require_service(self, ctx: PluginContext, service: str) -> None:
        self._check_phase(ctx, f"require_service({service!r})")
        if not isinstance(service, str) or not _SERVICE.match(service):
            raise RegistrationError(
                f"plugin '{ctx.name}' asked for the interface endpoint of {service!r}, which is not an AWS service "
                "endpoint name (e.g. 'lambda', 'secretsmanager')"
            )
        self._services.setdefault(service, set()).add(ctx.name)

    def require_egress(self, ctx: PluginContext, function: Any, egress: Egress) -> None:
        self._check_phase(ctx, "require_egress")
        need = EgressNeed(ctx.name, function, egress)
        if not need.key:
            raise RegistrationError(f"plugin '{ctx.name}': egress for a function without a key or name")
        if need.key in self._egress:
            raise RegistrationError(f"plugin '{ctx.name}': function '{need.key}' declared egress twice")
        self._egress[need.key] = need

    def services(self) -> dict[str, tuple[str, ...]]:
        """Each requested service → the plugins that asked, sorted (synth is deterministic)."""
        return {service: tuple(sorted(plugins)) for service, plugins in sorted(self._services.items())}

    def egress(self) -> list[EgressNeed]:
        """Every egress request, sorted by function key."""
        return [self._egress[key] for key in sorted(self._egress)]

    @staticmethod
    def _check_phase(ctx: PluginContext, what: str) -> None:
        if ctx.phase not in REQUEST_PHASES:
            raise RegistrationError(
                f"plugin '{ctx.name}' called {what} in phase '{ctx.phase}': network requests are taken in "
                f"{', '.join(REQUEST_PHASES)} (the network's provider builds them in finalize)"
            )
