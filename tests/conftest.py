"""Suite-wide settings. Plugin fixtures come from the payments_platform pytest plugin.

`make test` runs the suite on four pytest-xdist workers (``--dist loadgroup
--no-loadscope-reorder``): most of its wall time is Terraform and the AWS provider waiting, so
while one worker waits another uses the CPU. How the tests are split is decided here, once per
worker, identically (xdist checks that every worker collected the same list):

* every module with a test on the shared e2e deployment (fixture ``deployment``) is part of one
  unit of work, run in file order on one worker -- its modules change the deployment in turn and test_teardown.py
  takes it down last;
* the modules of a directory whose conftest gives them a session-scoped fixture (the compliance
  tests' synths and checkov scan, the emulator tests' emulator) are one unit, so it is built once
  rather than once per worker;
* a module whose tests share a module- or session-scoped fixture of its own (a synthesized
  stack, an emulator, a deployment of its own) is one unit, so the fixture is built once;
* any other test is a unit of its own (a `local up` in its own directory, a pure function).

The shared deployment's worker first runs the runtime's unit tests (tests/runtime: pure, ~60 s) while
the deployment's cold `local up` -- started in the background by the first of them
(``pytest_shared_deployment_due``, tests/e2e/conftest.py) -- waits on the provider, instead of idling
those ~80 s in the first e2e test's setup.

On the shared deployment the ``starts_early`` tests run first (by their ``order``, then file order):
each starts what waits on the deployed schedule (stranded dispatches, a payment the reconciler
settles) from a session-scoped fixture, so the minute the schedule takes passes under the other
modules instead of in a test that only waits; its module's later tests check the outcome.

The units go out longest first: the shared deployment, then every unit holding a
``terraform`` test -- those that start from the seed's snapshot (``from_the_seed``: a restored
deployment, a copy of the snapshot) after the others, which keep their workers busy while the seed
deploys -- then the ``warm_start`` tests, which restore the snapshot the shared deployment keeps
(tests/suite_snapshots.py; ~10-25 s each), then the other units that share a fixture (the
compliance scans, the emulator's tests), then the single tests in file order, which even out the
workers' ends (run last, the warm_start tests left one worker finishing ~50 s after the others).
"""

import json
import os
import shutil
import tempfile
from typing import Any

import pytest

from payments_platform.core.local.snapshots import SNAPSHOTS_ENV_VAR
from payments_platform.core.ops import garbage_collection

# Tests never talk to real AWS; credentials are fake and regions fixed.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("ENVIRONMENT_SUFFIX", None)
# A large heap (moto, boto3, the bindings) for the whole session: see core/ops/garbage_collection.py.
garbage_collection.collect_less_often()

SHARED_DEPLOYMENT_GROUP = "e2e-deployment"
# Pure and CPU-bound: run on the shared deployment's worker while its cold `local up` waits.
WHILE_THE_DEPLOYMENT_STARTS = "tests/runtime/"
_DEPLOYMENT_DUE: list[str] = []


class SharedDeploymentHooks:
    @pytest.hookspec(firstresult=True)
    def pytest_shared_deployment_due(self, config: pytest.Config) -> bool | None:
        """This worker runs the shared deployment's tests: start the deployment in the background now."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(SharedDeploymentHooks)


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("xdist_group")
    if marker is not None and marker.args == (SHARED_DEPLOYMENT_GROUP,) and not _DEPLOYMENT_DUE:
        _DEPLOYMENT_DUE.append(item.nodeid)  # once, on the worker that got the group
        item.config.hook.pytest_shared_deployment_due(config=item.config)


# The e2e worker's timings (tests/e2e/conftest.py hands them over): the controller loads no conftest below this one.
E2E_TIMINGS: dict[str, float] = {}
_SUITE_SNAPSHOTS: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "warm_start: needs a deployment and starts from the suite's snapshot (tests/suite_snapshots.py)"
    )
    config.addinivalue_line(
        "markers",
        "from_the_seed: its first test waits for the seed's snapshot (scheduled after the other terraform units)",
    )
    config.addinivalue_line(
        "markers",
        "starts_early(order=0): on the shared deployment, runs before its other tests, lowest order first "
        "(tests/conftest.py says why)",
    )
    if not hasattr(config, "workerinput") and SNAPSHOTS_ENV_VAR not in os.environ:
        # Before any worker starts, so all of them (and every `local up` they run) share it.
        os.environ[SNAPSHOTS_ENV_VAR] = _SUITE_SNAPSHOTS["made"] = tempfile.mkdtemp(prefix="suite-snapshots-")
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        # The controller, before any worker starts: jsii unpacks the provider bindings into its
        # package cache on first use and fails a process that finds another one unpacking them
        # ("modified while it was being extracted"), which the workers and their `local up`s all
        # would on a fresh clone. Unpacked once here, they are only read after.
        from payments_platform.core.cdktf_adapter import aws

        aws.sqs_queue  # noqa: B018 -- the attribute loads the provider's jsii assembly


def _shared_fixture_owner(item: pytest.Item) -> str | None:
    """Where the widest fixture of this suite (not a plugin's) the test shares with others is
    defined: a conftest's directory for a session-scoped one, else the module; None if none."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    shared = [
        definition
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
        if definition.scope != "function" and definition.baseid
    ]
    directories = sorted(d.baseid for d in shared if d.scope in ("session", "package") and not d.baseid.endswith(".py"))
    if directories:
        return directories[0]  # the widest: a parent directory sorts before its children
    return _module(item) if shared else None


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _unit(item: pytest.Item, on_the_deployment: set[str]) -> str | None:
    if _module(item) in on_the_deployment:
        return SHARED_DEPLOYMENT_GROUP
    return _shared_fixture_owner(item)


@pytest.hookimpl(tryfirst=True)  # before xdist turns each group into the test ids' "@group" suffix
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput") or not config.getoption("loadgroup", False):
        return  # one process: collection order (the e2e conftest starts the deployment early instead)
    # A module with one test on the shared deployment goes along whole (its other tests may set up
    # or check what that test does).
    on_the_deployment = {_module(item) for item in items if "deployment" in getattr(item, "fixturenames", ())}
    units: dict[pytest.Item, str | None] = {}
    for item in items:
        units[item] = unit = _unit(item, on_the_deployment)
        if on_the_deployment and item.nodeid.startswith(WHILE_THE_DEPLOYMENT_STARTS):
            units[item] = unit = SHARED_DEPLOYMENT_GROUP
        if unit is not None:
            item.add_marker(pytest.mark.xdist_group(unit))
    slow_units = {units[item] or item.nodeid for item in items if item.get_closest_marker("terraform")}
    seeded_units = {units[item] or item.nodeid for item in items if item.get_closest_marker("from_the_seed")}

    def rank(indexed: tuple[int, pytest.Item]) -> tuple[int, int, int]:
        index, item = indexed
        unit = units[item]
        if unit == SHARED_DEPLOYMENT_GROUP:
            if item.nodeid.startswith(WHILE_THE_DEPLOYMENT_STARTS):
                return (0, -1, index)
            early = item.get_closest_marker("starts_early")
            return (0, early.kwargs.get("order", 0) if early else 1_000, index)
        if item.get_closest_marker("warm_start"):
            return (2, 1, index)  # after the seeded units: they too wait for the suite's snapshot
        if (unit or item.nodeid) in seeded_units:
            return (2, 0, index)
        if (unit or item.nodeid) in slow_units:
            return (1, 0, index)
        # A unit sharing a fixture (the compliance scans, the emulator's tests: 20-45 s) before the
        # single tests, which fill the end.
        return (2, 2, index) if unit is not None else (3, 0, index)

    items[:] = [item for _, item in sorted(enumerate(items), key=rank)]


def pytest_unconfigure(config: pytest.Config) -> None:
    made = _SUITE_SNAPSHOTS.pop("made", None)
    if made is not None:  # the emulator's secrets do not outlive the session
        shutil.rmtree(made, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    E2E_TIMINGS.update(json.loads(getattr(node, "workeroutput", {}).get("e2e_timings", "{}")))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if E2E_TIMINGS:
        measured = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in E2E_TIMINGS.items())
        terminalreporter.write_line(f"e2e local deployment on the emulator: {measured}")


def pytest_collection_finish(session: pytest.Session) -> None:
    # Every test module, the platform and its bindings are imported now and stay: no later full
    # collection need walk them (in the workers ~28 % of their CPU was the collector's).
    garbage_collection.freeze_what_is_loaded()
