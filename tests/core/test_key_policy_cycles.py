"""A key-policy statement naming a resource built from the platform key would make a Terraform
dependency cycle (``Cycle: aws_sns_topic..., aws_kms_key...`` at validate): refused at synth,
naming the plugin and the statement."""

from __future__ import annotations

from typing import Any

import pytest

from payments_platform.core import PluginDeclaration, RegistrationError, hookimpl, keys
from payments_platform.core.context import KeyPolicyStatement
from payments_platform.core.host.key_policy_cycles import refuse_key_policy_cycles
from payments_platform.core.testing import synth


class KeyStatementAuthor:
    """What the merchant-webhooks author wrote by hand: SNS may use the key, for the topic."""

    def __init__(self, source_arn_of: Any) -> None:
        self.source_arn_of = source_arn_of

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="merchant-webhooks", description="raw key statement", requires=(keys.NOTIFICATIONS_TOPIC,)
        )

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        topic = ctx[keys.NOTIFICATIONS_TOPIC]
        ctx.policy.allow_key_use(
            "AllowSnsToSubscriberQueue",
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:SourceArn": self.source_arn_of(ctx, topic)}},
            },
        )


def test_statement_naming_the_topic_resource_is_refused_naming_plugin_statement_and_resource():
    author = KeyStatementAuthor(lambda ctx, topic: topic.arn)
    with pytest.raises(RegistrationError) as refused:
        synth(["messaging"], extra_plugins={"merchant-webhooks": author}, cache=False)
    message = str(refused.value)
    assert message.startswith(
        "plugin 'merchant-webhooks' key policy statement 'AllowSnsToSubscriberQueue' names "
        "aws_sns_topic.messaging_notifications_topic_"
    )
    assert "(built by plugin 'messaging'), which depends on the platform key (aws_kms_key.platform_" in message
    assert "dependency cycle" in message


def test_statement_naming_the_topic_by_its_literal_arn_is_accepted():
    author = KeyStatementAuthor(lambda ctx, topic: topic.physical_arn)
    stack = synth(["messaging"], extra_plugins={"merchant-webhooks": author}, cache=False)
    assert "AllowSnsToSubscriberQueue" in stack.one("aws_kms_key")["policy"]


def block(*references: str, depends_on: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"attribute": " ".join(f"${{{r}.arn}}" for r in references), "depends_on": list(depends_on)}


def test_a_resource_reaching_the_key_through_another_is_refused_too():
    config = {
        "resource": {
            "aws_kms_key": {"key": {}},
            "aws_sqs_queue": {"queue": block("aws_kms_key.key")},
            "aws_lambda_event_source_mapping": {"mapping": block("aws_sqs_queue.queue")},
            "aws_iam_role": {"role": {}},
            "aws_lambda_function": {
                "fn": block("aws_iam_role.role", depends_on=("aws_lambda_event_source_mapping.mapping",))
            },
        },
        "data": {"aws_caller_identity": {"caller": {}}},
    }
    fine = KeyPolicyStatement(
        "Fine",
        {"Principal": {"AWS": "${aws_iam_role.role.arn}"}, "Account": "${data.aws_caller_identity.caller.account_id}"},
        "p",
    )
    refuse_key_policy_cycles(config, "aws_kms_key.key", [fine], resolve=str)
    cyclic = KeyPolicyStatement("Cyclic", {"Principal": {"AWS": "${aws_lambda_function.fn.arn}"}}, "p")
    with pytest.raises(RegistrationError, match=r"'Cyclic' names aws_lambda_function.fn, which depends"):
        refuse_key_policy_cycles(config, "aws_kms_key.key", [fine, cyclic], resolve=str)
