"""The example of docs/PLUGIN_AUTHORS.md ("Letting another plugin's function use what you own"):
a plugin grants the transaction processor send rights on its own queue through the typed key,
tested with stub_provider standing in for the api plugin -- no hand-written stand-in plugin."""

from __future__ import annotations

import pytest

from payments_platform.core import PluginContext, PluginDeclaration, aws, hookimpl, keys
from payments_platform.core.errors import ConfigError
from payments_platform.core.testing import stub_provider, synth


class FraudScreen:
    """A queue of payments to screen, which the transaction processor may send to."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="fraud_screen",
            description="fraud-screening queue",
            requires=(keys.TRANSACTION_PROCESSOR,),
            emulated_services=("sqs",),
            requires_api=">=1.1,<2",
        )

    @hookimpl
    def payments_resources(self, ctx: PluginContext) -> None:
        kms = ctx[keys.KMS_KEY]
        queue = aws.sqs_queue.SqsQueue(
            ctx.scope, "queue", name=ctx.naming.name("fraud-screen", kind="sqs"), kms_master_key_id=kms.arn
        )
        ctx.stash["queue"] = keys.Queue(
            name=queue.name, arn=queue.arn, url=queue.url, kms_key_arn=kms.arn, region=ctx.aws.region
        )

    @hookimpl
    def payments_wiring(self, ctx: PluginContext) -> None:
        processor = ctx[keys.TRANSACTION_PROCESSOR]
        ctx.stash["queue"].grant_send(ctx.roles, processor.role, sid="FraudScreenSend")


# One instance per module: synth caches by plugin identity.
API = stub_provider("api", [keys.TRANSACTION_PROCESSOR])
PLUGIN = FraudScreen()


@pytest.fixture(scope="module")
def stack():
    return synth(["fraud_screen"], extra_plugins={"api": API, "fraud_screen": PLUGIN})


def queue_arn(stack) -> str:
    (logical_id,) = stack.resources("aws_sqs_queue")
    return "${aws_sqs_queue." + logical_id + ".arn}"


def test_processor_may_send_to_the_plugins_queue_and_nothing_else(stack):
    (kms_id,) = stack.resources("aws_kms_key")
    assert stack.iam_statements("transaction-processor") == [
        {"Sid": "FraudScreenSend", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn(stack)},
        {
            "Sid": "FraudScreenSendKms",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "${aws_kms_key." + kms_id + ".arn}",
            "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}},
        },
    ]


def test_stubbed_function_role_is_a_real_role_named_for_the_environment(stack):
    stack.one("aws_iam_role", name="transaction-processor-role-test")


def test_stubbed_function_publishes_its_names():
    function = API.values[keys.TRANSACTION_PROCESSOR]
    assert (function.name, function.log_group_name, function.role_key) == (
        "transaction-processor-test",
        "/aws/lambda/transaction-processor-test",
        "transaction-processor",
    )


def test_stub_provider_publishes_a_key_of_your_own_with_the_value_given():
    custom = keys.ContextKey("fraud.rules_version", str, "the rules version")
    assert stub_provider("fraud", [custom], values={custom: "v7"}).values == {custom: "v7"}


def test_stub_provider_without_a_stand_in_names_the_key():
    custom = keys.ContextKey("fraud.rules_version", str)
    with pytest.raises(ConfigError, match=r"no stand-in for 'fraud.rules_version'; pass one: values="):
        stub_provider("fraud", [custom])
