"""A `uses` that would close a cycle with a `requires` the other way yields to it (plugin API 1.2):
the user runs first in each phase and reads the key in a later phase -- how the api plugin reads the
payment connector, whose plugin requires the api plugin's runtime package."""

from __future__ import annotations

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.errors import RequirementError
from payments_platform.core.host.builder import build_stack
from payments_platform.core.host.plugin_manager import in_process_source
from payments_platform.core.host.synth import new_app
from payments_platform.core.testing import make_environment, stub_values

TABLE = stub_values()[keys.TRANSACTIONS_TABLE]
QUEUE = stub_values()[keys.AUDIT_QUEUE]


class Plugin:
    def __init__(self, name, log, provides=(), requires=(), uses=(), reads_in="wiring"):
        self.name, self.log, self.reads_in = name, log, reads_in
        self.declaration = PluginDeclaration(
            name=name, description="d", provides=provides, requires=requires, uses=uses
        )

    @hookimpl
    def payments_declare(self):
        return self.declaration

    def _phase(self, ctx, phase):
        self.log.append((phase, self.name))
        for key in self.declaration.provides:
            if phase == "resources":
                ctx[key] = TABLE if key is keys.TRANSACTIONS_TABLE else QUEUE
        if phase == self.reads_in:
            for key in self.declaration.uses:
                self.log.append(("read", self.name, ctx.get(key) is not None))

    @hookimpl
    def payments_resources(self, ctx):
        self._phase(ctx, "resources")

    @hookimpl
    def payments_wiring(self, ctx):
        self._phase(ctx, "wiring")


def build(plugins, tmp_path):
    sources = {name: in_process_source(name, p) for name, p in plugins.items()}
    return build_stack(new_app(tmp_path), make_environment(plugins), sources=sources)


def test_a_use_yields_to_a_requirement_the_other_way_and_reads_in_a_later_phase(tmp_path):
    log = []
    plugins = {
        # "zapi" provides a package the connector requires, and uses the connector's key.
        "zapi": Plugin("zapi", log, provides=(keys.TRANSACTIONS_TABLE,), uses=(keys.AUDIT_QUEUE,)),
        "aconnector": Plugin("aconnector", log, provides=(keys.AUDIT_QUEUE,), requires=(keys.TRANSACTIONS_TABLE,)),
    }
    assert build(plugins, tmp_path).order == ["zapi", "aconnector"]
    assert ("read", "zapi", True) in log  # published in resources, read in wiring


def test_a_use_without_a_requirement_back_still_orders_its_provider_first(tmp_path):
    log = []
    plugins = {
        "aa": Plugin("aa", log, uses=(keys.AUDIT_QUEUE,), reads_in="resources"),
        "zz": Plugin("zz", log, provides=(keys.AUDIT_QUEUE,)),
    }
    assert build(plugins, tmp_path).order == ["zz", "aa"]
    assert ("read", "aa", True) in log


def test_requirements_both_ways_are_still_a_cycle(tmp_path):
    plugins = {
        "a": Plugin("a", [], provides=(keys.TRANSACTIONS_TABLE,), requires=(keys.AUDIT_QUEUE,)),
        "b": Plugin("b", [], provides=(keys.AUDIT_QUEUE,), requires=(keys.TRANSACTIONS_TABLE,)),
    }
    with pytest.raises(RequirementError, match="cycle"):
        build(plugins, tmp_path)
