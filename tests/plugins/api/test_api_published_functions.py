"""The api plugin publishes a handle on each of its functions (plugin API 1.1): its role (owned by
api), its name and ARN and its log group, as references to the resources."""

from __future__ import annotations

import pytest
from api_support import STUBS

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.testing import synth

FUNCTION_KEYS = {
    keys.TRANSACTION_PROCESSOR: "transaction_processor",
    keys.STATUS_CHECKER: "status_checker",
    keys.TRANSACTION_RECONCILER: "transaction_reconciler",
    keys.CARD_FINGERPRINT_ROTATOR: "card_fingerprint_rotator",
}


class Reader:
    """Puts what each handle references into outputs, where the synth shows them resolved."""

    @hookimpl
    def payments_declare(self):
        return PluginDeclaration(name="reader", description="reads the handles", requires=tuple(FUNCTION_KEYS))

    @hookimpl
    def payments_wiring(self, ctx):
        for key, construct in FUNCTION_KEYS.items():
            function = ctx[key]
            ctx.outputs.add(f"{construct}_arn", function.arn, description="d")
            ctx.outputs.add(f"{construct}_log_group_arn", function.log_group_arn, description="d")


READER = Reader()


@pytest.fixture(scope="module")
def stack():
    return synth(["api"], extra_plugins={"stubs": STUBS, "reader": READER})


@pytest.fixture(scope="module")
def published(stack):
    return {name: value for name, (value, plugin) in stack.built.build.values.items() if plugin == "api"}


@pytest.mark.parametrize("key", FUNCTION_KEYS, ids=lambda key: key.name)
def test_each_function_is_published_with_the_role_it_runs_as(published, key):
    function = published[key.name]
    base = key.name.split(".", 1)[1].replace("_", "-")
    assert (function.role.key, function.role.owner) == (base, "api")


@pytest.mark.parametrize("key", FUNCTION_KEYS, ids=lambda key: key.name)
def test_each_function_handle_references_its_function_and_log_group(stack, key):
    construct = FUNCTION_KEYS[key]
    outputs = stack.outputs()
    function_id = next(
        i
        for i, b in stack.resources("aws_lambda_function").items()
        if b["//"]["metadata"]["path"].endswith(f"/{construct}")
    )
    log_group_id = next(
        i
        for i, b in stack.resources("aws_cloudwatch_log_group").items()
        if b["//"]["metadata"]["path"].endswith(f"/{construct}_log_group")
    )
    assert outputs[f"{construct}_arn"]["value"] == "${aws_lambda_function." + function_id + ".arn}"
    assert outputs[f"{construct}_log_group_arn"]["value"] == "${aws_cloudwatch_log_group." + log_group_id + ".arn}"
