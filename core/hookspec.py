"""The hook contract: everything a plugin author needs to know.

A plugin is a module or object with functions marked ``@hookimpl`` and registered
under the entry-point group ``payments_platform.plugins``. The host builds one stack per
environment in **phases**; within a phase it calls plugins in dependency order
(a plugin that ``requires`` another's key runs after it; ties broken by plugin name),
never in pluggy's registration order. Every phase runs for all plugins before the
next phase starts, so anything registered in ``resources`` is visible in ``wiring``.

    declare → configure → foundation → resources → wiring → finalize → (core) policy & synth

Once deployed on this machine (``payments-platform local up``), the core's local tools ask the
same plugins what to do with the API they deployed -- the core itself knows no payment detail:

    local_examples (printed at ``local up``) · smoke_checks (``local smoke``) ·
    chaos_scenarios (core/testing/chaos.py) · card_data (what the scans of answers and logs look for)

And ``payments-platform new-plugin NAME --kind KIND`` asks every installed plugin what kinds of
plugin distribution it can write (``scaffold_kinds``); the core's own is a generic ``queue``.

Example::

    from payments_platform.core import PluginDeclaration, PluginSettings, hookimpl, keys

    class Settings(PluginSettings):
        retention_days: int = 30

    @hookimpl
    def payments_declare():
        return PluginDeclaration(name="ledger", description="...", settings=Settings,
                                 requires=(keys.TRANSACTIONS_TABLE,))

    @hookimpl
    def payments_resources(ctx):
        table = ctx[keys.TRANSACTIONS_TABLE]
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext
    from payments_platform.core.declaration import PluginDeclaration, PluginSettings
    from payments_platform.core.deployment_checks import (
        CardDataDetector,
        ChaosScenario,
        ExampleRequest,
        LocalDeployment,
        SmokeCheck,
    )
    from payments_platform.core.environment import EnvironmentConfig
    from payments_platform.core.scaffold_kinds import ScaffoldKind

PROJECT_NAME = "payments_platform"
ENTRY_POINT_GROUP = "payments_platform.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# Phases in the order the host runs them; each maps to the hook it calls.
BUILD_PHASES: tuple[str, ...] = ("foundation", "resources", "wiring", "finalize")


# ---------------------------------------------------------------------------
# declare: who the plugin is (required)
# ---------------------------------------------------------------------------


@hookspec
def payments_declare() -> PluginDeclaration:
    """Return this plugin's :class:`PluginDeclaration`. **Every plugin must implement it.**

    Called once per build, before anything else. The declared ``name`` must equal the
    entry-point name the plugin is registered under (that is the name environments
    enable). ``settings`` is a :class:`PluginSettings` subclass: the host validates the
    environment's ``[environments.<env>.settings.<name>]`` table against it (defaults
    applied, unknown keys and wrong types rejected) and hands the result to later phases
    as ``ctx.settings``. ``emulated_services`` names the AWS services (the AWS provider's
    ``endpoints`` keys) your resources call, for environments on a local emulator.
    """
    raise NotImplementedError  # a specification: pluggy never calls its body


# ---------------------------------------------------------------------------
# configure: validate settings against the environment (optional)
# ---------------------------------------------------------------------------


@hookspec
def payments_configure(settings: PluginSettings, environment: EnvironmentConfig) -> None:
    """Check this plugin's validated ``settings`` against the ``environment``.

    Called once per environment after the settings model has validated, before any
    construct exists. Raise ``ValueError`` (or :class:`ConfigError`) with a one-line
    message to reject the configuration; the host prefixes it with the environment and
    plugin name. The return value is ignored.
    """


# ---------------------------------------------------------------------------
# build phases: contribute resources (all optional)
# ---------------------------------------------------------------------------


@hookspec
def payments_foundation(ctx: PluginContext) -> None:
    """Create foundational resources others build on (network, keys) and publish them.

    ``ctx`` is this plugin's view of the build: ``ctx.scope`` (the construct to create
    resources under; construct ids must be stable — changing one replaces the resource),
    ``ctx.settings``, ``ctx.environment``, ``ctx.naming``, ``ctx.roles``, ``ctx.monitoring``,
    ``ctx.policy``, ``ctx.outputs``, ``ctx.compliance`` (PCI DSS control evidence),
    ``ctx.stash`` (this plugin's own state, kept from phase to phase) and the typed context (``ctx[KEY]`` reads a declared
    requirement, ``ctx[KEY] = value`` publishes a declared provision). The core's KMS key
    (``keys.KMS_KEY``) is available to every plugin from this phase on. Return value ignored.
    """


@hookspec
def payments_resources(ctx: PluginContext) -> None:
    """Create this plugin's main resources and publish what it ``provides``.

    Ask ``ctx.roles.role(...)`` for IAM roles here so functions can reference them;
    register functions, tables, queues and APIs with ``ctx.monitoring`` so observability
    can find them (and your own graphs and alarms: ``ctx.monitoring.metric_widget`` /
    ``ctx.monitoring.alarm``). Return value ignored.
    """


@hookspec
def payments_wiring(ctx: PluginContext) -> None:
    """Connect to other plugins' resources: grants (ask the published value, e.g.
    ``ctx[keys.TRANSACTIONS_TABLE].grant_read(ctx.roles, role, sid=...)``; ``ctx.roles.grant``
    for your own resources; another plugin's function reaches what you own through the key that
    publishes it: ``my_queue.grant_send(ctx.roles, ctx[keys.TRANSACTION_PROCESSOR].role, sid=...)``,
    never by role name), policies, cross-plugin references. Everything ``provides`` promised must
    be published by the end of this phase. Return value ignored.
    """


@hookspec
def payments_finalize(ctx: PluginContext) -> None:
    """Read what all plugins registered (``ctx.monitoring``) and add dashboards, alarms
    or reports. Do not publish context keys here. After every plugin's finalize, the core
    renders one IAM policy per role, applies platform tags and runs the policy rules.
    Return value ignored.
    """


# ---------------------------------------------------------------------------
# local: what the core's tools run against the deployed API (all optional)
# ---------------------------------------------------------------------------
# Called with a running local deployment, never during a build: they contribute nothing to the
# synthesized stack. Each hook registers through ``register``; the host checks the type of what
# is registered, refuses a name registered twice and names the plugin in every error. Plugins are
# called in name order, each plugin's registrations kept in the order it made them. Types:
# core/deployment_checks.py (``payments_platform.core.deployment_checks``).


@hookspec
def payments_local_examples(deployment: LocalDeployment, register: Callable[[ExampleRequest], None]) -> None:
    """Register the requests ``payments-platform local up`` prints for the user to try.

    ``deployment`` is the running deployment (its ``url``, ``api_keys``, ``suffix``, ...);
    call ``register(ExampleRequest(method, url, headers, body, note))`` once per request, ``url``
    absolute (``deployment.url + "/orders"``). The core prints each as a curl command line, the
    ``note`` above it. Called once, after the deployment is up. Return value ignored.
    """


@hookspec
def payments_smoke_checks(deployment: LocalDeployment, register: Callable[[SmokeCheck], None]) -> None:
    """Register the checks ``payments-platform local smoke`` runs against the deployed API.

    Call ``register(SmokeCheck(name, run, cleanup=None))`` per check, in the order they must run
    (a later check may use what an earlier one created: keep that state in your own object).
    ``run()`` makes real requests (``deployment.request(method, path, ...)``, boto3 clients from
    ``deployment.client(service)``) and returns a one-line outcome, or raises ``CheckFailed`` with
    what it found; the first failing check ends the run. ``cleanup()`` runs afterwards whatever
    happened. Check names must be unique across plugins. After every plugin's checks, the core
    adds its own (``terraform plan`` shows no changes, nothing left after ``local down``).
    Called once per smoke run, after ``local up``. Return value ignored.
    """


@hookspec
def payments_chaos_scenarios(deployment: LocalDeployment, register: Callable[[ChaosScenario], None]) -> None:
    """Register chaos experiments for core/testing/chaos.py (and benchmarks/chaos_bench.py).

    Call ``register(scenario)`` with a :class:`ChaosScenario` subclass instance bound to
    ``deployment``: it declares the faults (``FaultRule``), builds each request, says when the
    deployment has converged and which steady-state checks failed; the core runs SDK-like
    clients (one idempotency key per request, retried with back-off), injects and clears the
    faults, waits for convergence and reports. Scenario names must be unique across plugins.
    Called once per experiment run. Return value ignored.
    """


@hookspec
def payments_card_data(register: Callable[[CardDataDetector], None]) -> None:
    """Register what counts as card data in text, for the core's scans of what a deployed API
    answers (e.g. the ``contract`` command's check of every recorded exchange).

    Call ``register(CardDataDetector(name, found))``: ``found(text)`` is true when ``text`` holds
    card data. The core reports text any registered detector finds. Called when a scan needs it,
    outside any build. Return value ignored.
    """


# ---------------------------------------------------------------------------
# authoring: what ``new-plugin`` can write (optional)
# ---------------------------------------------------------------------------
# Called outside any build and any environment: a new plugin belongs to none yet, so the host asks
# every *installed* plugin, in name order. Type: core/scaffold_kinds.py.


@hookspec
def payments_scaffold_kinds(register: Callable[[ScaffoldKind], None]) -> None:
    """Register the kinds of plugin distribution ``payments-platform new-plugin NAME --kind KIND``
    can write: starting points for plugins that work with what yours owns (the plugin that
    consumes a key, say, contributes a kind whose plugin provides that key).

    Call ``register(ScaffoldKind(name, description, files, summary=..., next_step=...))`` per kind:
    ``files`` maps each path (``{package}/plugin.py``) to its text, a ``string.Template`` over the
    new plugin's names (``$name``, ``$package``, ``$settings_class``, ...); the core adds the
    ``pyproject.toml`` with the entry point and writes everything all or nothing. A kind name
    registered twice (by two plugins, or the core's own ``queue``) is refused naming both. What a
    kind writes should pass its own tests as generated. Called once per ``new-plugin`` run.
    Return value ignored.
    """
