"""What the host refuses at registration: every pluggy hookimpl option either works or is
refused with the reason, unmarked ``payments_*`` functions, and misspelt hooks."""

from __future__ import annotations

import re
import types

import pytest

from payments_platform.core import PluginDeclaration, hookimpl
from payments_platform.core.errors import PluginLoadError
from payments_platform.core.host.plugin_manager import PlatformPluginManager, in_process_source

HERE = r"(\S*/)?tests/core/host/test_hookimpl_checks\.py"


def manager(plugin, name="fraud"):
    return PlatformPluginManager([name], {name: in_process_source(name, plugin)}, environment="test")


def refusal(plugin) -> str:
    with pytest.raises(PluginLoadError) as excinfo:
        manager(plugin)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


class Declared:
    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="fraud", description="fraud rules")


def line_of(function) -> int:
    return function.__code__.co_firstlineno


@pytest.mark.parametrize("option", ["wrapper", "hookwrapper", "tryfirst", "trylast", "optionalhook"])
def test_hookimpl_option_the_host_cannot_honour_is_refused_with_location_and_reason(option):
    def payments_wiring(self, ctx):
        yield

    plugin_class = type("Optioned", (Declared,), {"payments_wiring": hookimpl(**{option: True})(payments_wiring)})
    message = refusal(plugin_class())
    assert re.fullmatch(
        rf"plugin 'fraud' \(distribution <in-process> 0\): payments_wiring \({HERE}:{line_of(payments_wiring)}\) "
        rf"uses @hookimpl\({option}=True\), which the platform refuses: .+",
        message,
    ), message


def test_tryfirst_refusal_says_order_comes_from_phases_and_requires():
    class First(Declared):
        @hookimpl(tryfirst=True)
        def payments_resources(self, ctx):
            pass

    assert "order comes from phases and `requires`/`uses`" in refusal(First())


def test_wrapper_refusal_says_there_is_no_hook_call_to_wrap():
    class Wrapping(Declared):
        @hookimpl(wrapper=True)
        def payments_resources(self, ctx):
            yield

    assert "there is no hook call to wrap" in refusal(Wrapping())


def test_specname_works_the_implementation_is_called():
    calls = []

    class Named(Declared):
        @hookimpl(specname="payments_wiring")
        def add_grants(self, ctx):
            calls.append(ctx)

    host = manager(Named())
    host.wiring("fraud", "ctx")
    assert calls == ["ctx"] and host.hooks_of("fraud") == ["payments_declare", "payments_wiring"]


def test_specname_naming_an_unknown_hook_is_refused_with_suggestion():
    class Named(Declared):
        @hookimpl(specname="payments_wirng")
        def add_grants(self, ctx):
            pass

    message = refusal(Named())
    assert message.endswith("implements 'payments_wirng', which is not a hook (did you mean 'payments_wiring'?)")


def test_two_implementations_of_one_hook_in_one_plugin_are_refused():
    class Twice(Declared):
        @hookimpl
        def payments_wiring(self, ctx):
            pass

        @hookimpl(specname="payments_wiring")
        def more_wiring(self, ctx):
            pass

    message = refusal(Twice())
    assert re.search(
        r"more_wiring \(\S+:\d+\) and payments_wiring \(\S+:\d+\) both implement payments_wiring;", message
    )


def test_payments_method_without_hookimpl_is_refused_with_the_fix():
    class Unmarked(Declared):
        def payments_wiring(self, ctx):
            pass

    message = refusal(Unmarked())
    assert re.fullmatch(
        rf"plugin 'fraud' \(distribution <in-process> 0\): payments_wiring \({HERE}:\d+\) "
        r"is not marked @hookimpl, so it would never be called: add @hookimpl",
        message,
    ), message


def test_payments_module_function_without_hookimpl_is_refused_with_the_fix():
    def payments_resources(ctx):
        pass

    module = types.ModuleType("payments_fraud_plugin")
    module.payments_declare = Declared.payments_declare.__get__(Declared())
    module.payments_resources = payments_resources
    message = refusal(module)
    assert "payments_resources (" in message and message.endswith(
        "is not marked @hookimpl, so it would never be called: add @hookimpl"
    )
    assert f"test_hookimpl_checks.py:{line_of(payments_resources)})" in message


def test_misspelt_hook_gets_did_you_mean():
    class Misspelt(Declared):
        @hookimpl
        def payments_wirng(self, ctx):
            pass

    message = refusal(Misspelt())
    assert re.fullmatch(
        rf"plugin 'fraud' \(distribution <in-process> 0\): payments_wirng \({HERE}:\d+\) "
        r"implements 'payments_wirng', which is not a hook \(did you mean 'payments_wiring'\?\)",
        message,
    ), message


def test_hook_name_far_from_every_hook_gets_no_suggestion():
    class Unknown(Declared):
        @hookimpl
        def payments_xyzzy(self, ctx):
            pass

    assert refusal(Unknown()).endswith("implements 'payments_xyzzy', which is not a hook")


def test_several_problems_are_counted_in_the_one_line():
    class Many(Declared):
        @hookimpl(tryfirst=True)
        def payments_resources(self, ctx):
            pass

        def payments_wiring(self, ctx):
            pass

    assert refusal(Many()).endswith("(and 1 more)")


def test_plain_hookimpl_registers():
    class Plain(Declared):
        @hookimpl
        def payments_resources(self, ctx):
            pass

    assert manager(Plain()).hooks_of("fraud") == ["payments_declare", "payments_resources"]
