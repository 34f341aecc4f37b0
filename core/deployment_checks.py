"""What a plugin tells the core's local tooling about the API it deploys (the ``local`` hooks of
core/hookspec.py): example requests printed at ``local up``, the checks of ``local smoke``, the
chaos experiments of core/testing/chaos.py and what counts as card data.

The core knows no payment detail: it runs whatever the enabled plugins register here against a
running local deployment, which it hands them as a :class:`LocalDeployment`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payments_platform.core.fault_rules import FaultRule

HTTP_TIMEOUT_S = 30
# The logs a local run's own processes write: the gateway (access log, function output), the
# emulator and the fault hits. Terraform's log is not one: it is the deployment tool's, not the API's.
SERVICE_LOGS = ("gateway.log", "emulator.log", "faults.log")


@dataclass(frozen=True)
class HttpResponse:
    """What an HTTP request was answered."""

    status: int  # the HTTP status
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # as received

    def json(self) -> Any:
        """The body, parsed as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body as text (undecodable bytes replaced)."""
        return self.body.decode(errors="replace")


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> HttpResponse:
    """One real HTTP request; a 4xx/5xx is an answer, not an exception."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return HttpResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return HttpResponse(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


@dataclass(frozen=True)
class LocalDeployment:
    """A running local deployment (``payments-platform local up``), as the hooks see it.

    ``url`` is the API's stage URL, ``api_keys`` its clients' keys by client name, ``suffix`` the
    environment's resource-name suffix (``Naming``: ``<name>-<suffix>``), ``endpoint`` the AWS
    emulator every deployed resource lives in. ``client(service)`` is a boto3 client for it.
    """

    environment: str  # the environment's name in environments.toml
    suffix: str  # appended to every resource name: ``<name>-<suffix>``
    region: str  # the AWS region deployed to
    endpoint: str  # the AWS emulator's URL
    url: str  # the API's stage URL
    api_keys: Mapping[str, str]  # client name → API key value
    run_dir: Path  # the local run's directory (logs, state)
    clients: Callable[[str], Any] = field(repr=False, compare=False)  # service → boto3 client (use ``client``)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` for the emulator, with its administrator's credentials."""
        return self.clients(service)

    def resource_name(self, name: str) -> str:
        """``name`` as deployed in this environment (e.g. a function's name)."""
        return f"{name}-{self.suffix}"

    def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> HttpResponse:
        """``method`` on the API's ``path`` (``/orders``), through the local gateway."""
        return http_request(method, self.url + path, headers=headers, body=body)

    def service_logs(self) -> dict[str, str]:
        """What the run's own processes logged so far, by file name (:data:`SERVICE_LOGS`)."""
        logs = {}
        for name in SERVICE_LOGS:
            path = self.run_dir / name
            logs[name] = path.read_text(errors="replace") if path.exists() else ""
        return logs


# -- local up: example requests -----------------------------------------------------------------


@dataclass(frozen=True)
class ExampleRequest:
    """A request ``local up`` prints (as a curl command line) for the user to try.

    ``url`` is absolute (build it from ``deployment.url``); ``note``, when set, is printed above it.
    """

    method: str  # GET, POST, ...
    url: str  # absolute, query string included
    headers: tuple[tuple[str, str], ...] = ()  # (name, value), in the order printed
    body: str | None = None  # the request body, as typed
    note: str = ""  # one line printed above the command


# -- local smoke: checks ------------------------------------------------------------------------


class CheckFailed(AssertionError):
    """A check found the deployment not as it should be; the message says what it found."""


@dataclass(frozen=True)
class SmokeCheck:
    """One step of ``local smoke``: ``run()`` returns a one-line outcome, or raises
    :class:`CheckFailed`. ``cleanup``, when given, runs after the checks whatever happened
    (e.g. removing a subscription the check made), before the deployment is taken down."""

    name: str  # what is checked, as printed: "POST /orders"
    run: Callable[[], str]  # makes the check; returns the outcome line or raises CheckFailed
    cleanup: Callable[[], None] | None = None  # undoes what ``run`` made, after every check


# -- chaos: experiments -------------------------------------------------------------------------


@dataclass
class ChaosRequest:
    """One request of a chaos experiment and what it was answered. The harness sends ``body`` to
    ``path`` with ``method`` from an SDK-like client, under one ``Idempotency-Key``
    (``idempotency_key``) reused on every retry, and records the final answer here."""

    client: str  # the client (a name of ``deployment.api_keys``) that sends it
    method: str  # POST, ...
    path: str  # below the stage URL: "/orders"
    body: bytes  # sent as application/json
    idempotency_key: str  # the Idempotency-Key header, the same on every retry
    reference: str  # the scenario's own name for the request, e.g. a merchant reference
    started: float = 0.0  # time.monotonic() of the first attempt
    answered: float = 0.0  # time.monotonic() of the final answer
    status: int = 0  # 0: no answer (timeout, connection refused)
    response: str = ""  # the final answer's body
    attempts: int = 0  # how many times it was sent
    retries: Counter[str] = field(default_factory=Counter)  # "timeout" or the status → how often retried


class ChaosScenario(ABC):
    """The domain of a chaos experiment: the core runs the load and the faults, the scenario says
    what to send, what to break and what the steady state is.

    Order of calls: ``faults()`` → ``start()`` → ``request(n)`` for each n → (load under the faults,
    which are then cleared) → ``converged()`` polled until true or the harness's timeout →
    ``failures()`` → ``figures()`` → ``stop()`` (always, also after an error).
    """

    #: registered scenarios are selected by name (``Experiment.scenario``)
    name: str = ""
    #: the statuses a client retries with the same idempotency key (a timeout is always retried)
    retried_statuses: frozenset[int] = frozenset({409, 429, 500, 502, 503, 504})
    #: the status of a request the scenario considers done
    success_status: int = 200
    #: every status the scenario considers done (a payment answered 202 "processing" is done too:
    #: its outcome follows); default: ``success_status`` alone
    success_statuses: frozenset[int] = frozenset()

    @abstractmethod
    def faults(self) -> Sequence[FaultRule]:
        """The faults injected while the load runs (into AWS calls and containers)."""

    def start(self) -> None:
        """Begin watching what the deployment delivers (queues, topics, buckets)."""
        return None

    @abstractmethod
    def request(self, number: int, client: str) -> ChaosRequest:
        """The ``number``-th request of the load, sent by ``client``."""

    @abstractmethod
    def converged(self, requests: Sequence[ChaosRequest]) -> bool:
        """Whether everything the answered ``requests`` started has settled (polled)."""

    @abstractmethod
    def failures(self, requests: Sequence[ChaosRequest]) -> list[str]:
        """What of the steady state does not hold, one line each (empty: it holds). Called after
        convergence or the timeout; the core adds a line per request never answered with
        ``success_status`` (or one of ``success_statuses``)."""

    def figures(self, requests: Sequence[ChaosRequest]) -> dict[str, Any]:
        """The scenario's own figures for the report (e.g. deliveries counted, time to converge)."""
        return {}

    def stop(self) -> None:
        """Remove whatever ``start()`` made."""
        return None


# -- card data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardDataDetector:
    """What counts as card data (PCI DSS 3.3.1 / 3.4.1) for the core's scans of what a running API
    answers and logs (the contract report's exchanges): ``found(text)`` is true when ``text``
    holds any."""

    name: str  # what it detects, as reported
    found: Callable[[str], bool]  # true when the text holds card data
