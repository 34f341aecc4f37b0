"""Subscriptions as grants: a plugin subscribes its queue or function to the published topic's
payment events with one typed call -- filter policy, queue policy, key use and invoke permission
built for it -- and never receives the alarms the same topic carries."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest
from moto import mock_aws

from payments_platform.core import PluginDeclaration, RegistrationError, aws, hookimpl, keys
from payments_platform.core.host.synth import synthesize
from payments_platform.core.ops.terraform import Terraform
from payments_platform.core.testing import SynthesizedStack, make_environment, synth

RECEIVED = "payment.transaction.received"
AUTHORIZED = "payment.transaction.authorized"


class Subscriber:
    """A third-party plugin like the merchant-webhooks author's: its own encrypted queue and
    function, both subscribed to the payment events through the published topic."""

    def __init__(
        self,
        *,
        event_types: Any = (RECEIVED, AUTHORIZED),
        fifo: bool = False,
        own_key: bool = False,
        queue_policy: bool = False,
        twice: bool = False,
    ):
        self.event_types = event_types
        self.fifo = fifo
        self.own_key = own_key
        self.queue_policy = queue_policy
        self.twice = twice

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="merchant-webhooks", description="subscribes to payment events", requires=(keys.NOTIFICATIONS_TOPIC,)
        )

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        topic, kms = ctx[keys.NOTIFICATIONS_TOPIC], ctx[keys.KMS_KEY]
        name = ctx.naming.fifo_queue("webhook-events") if self.fifo else ctx.naming.name("webhook-events")
        resource = aws.sqs_queue.SqsQueue(
            ctx.scope,
            "webhook_queue",
            name=name,
            fifo_queue=self.fifo or None,
            content_based_deduplication=self.fifo or None,
            kms_master_key_id=kms.arn,
            policy='{"Version": "2012-10-17", "Statement": []}' if self.queue_policy else None,
        )
        queue = keys.Queue(
            name=name,
            arn=resource.arn,
            url=resource.url,
            fifo=self.fifo,
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/other" if self.own_key else kms.arn,
            region=ctx.aws.region,
        )
        topic.subscribe_queue(ctx, queue, sid="WebhookEvents", event_types=self.event_types)
        if self.twice:
            topic.subscribe_queue(ctx, queue, sid="WebhookEventsAgain")
        role = ctx.roles.role("webhook-sender", description="signs and posts events to the merchant")
        sender = keys.Function(
            name="webhook-sender-test",
            arn="arn:aws:lambda:us-east-1:123456789012:function:webhook-sender-test",
            role=role,
            log_group_name="/aws/lambda/webhook-sender-test",
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/webhook-sender-test",
        )
        topic.subscribe_function(ctx, sender, sid="WebhookSender")


def subscribed(subscriber: Subscriber) -> SynthesizedStack:
    return synth(["messaging"], extra_plugins={"merchant-webhooks": subscriber}, cache=False)


@pytest.fixture(scope="module")
def stack() -> SynthesizedStack:
    return subscribed(Subscriber())


def test_queue_subscription_filters_on_the_listed_event_types(stack):
    subscription = stack.one("aws_sns_topic_subscription", protocol="sqs")
    assert json.loads(subscription["filter_policy"]) == {"event_type": [AUTHORIZED, RECEIVED]}
    assert subscription["filter_policy_scope"] == "MessageAttributes"
    assert subscription["raw_message_delivery"] is True
    assert subscription["topic_arn"].startswith("${aws_sns_topic.messaging_notifications_topic")
    assert subscription["endpoint"].startswith("${aws_sqs_queue.merchant-webhooks_webhook_queue")


def test_function_subscription_without_types_takes_every_event_and_no_alarm(stack):
    subscription = stack.one("aws_sns_topic_subscription", protocol="lambda")
    assert json.loads(subscription["filter_policy"]) == {"event_type": [{"exists": True}]}
    assert subscription["endpoint"] == "arn:aws:lambda:us-east-1:123456789012:function:webhook-sender-test"


def test_the_specs_email_subscription_still_receives_everything_the_topic_carries(stack):
    email = stack.one("aws_sns_topic_subscription", protocol="email")
    assert email["endpoint"] == "admin@example.com" and "filter_policy" not in email


def test_function_may_be_invoked_by_sns_for_this_topic_alone(stack):
    permission = stack.one("aws_lambda_permission", statement_id="WebhookSender")
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["source_arn"].startswith("${aws_sns_topic.messaging_notifications_topic")


def test_queue_policy_lets_only_the_topic_send_and_only_over_tls(stack):
    (policy,) = stack.resources("aws_sqs_queue_policy").values()
    deny, allow = json.loads(policy["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"] == {"Service": "sns.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"].startswith("${aws_sns_topic.messaging_notifications")


def test_key_policy_lets_sns_encrypt_for_the_queue_naming_the_topic_by_its_literal_arn(stack):
    (key,) = stack.resources("aws_kms_key").values()
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    delivery = statements["WebhookEventsSnsDelivery"]
    assert delivery["Principal"] == {"Service": "sns.amazonaws.com"}
    assert delivery["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    source = delivery["Condition"]["ArnEquals"]["aws:SourceArn"]
    # built from the name (account from the caller identity), never the topic resource: no cycle
    assert source.endswith(":payment-notifications-test") and "aws_sns_topic" not in source


def test_unknown_event_type_is_refused_naming_plugin_and_known_types():
    with pytest.raises(
        RegistrationError,
        match=r"plugin 'merchant-webhooks' subscription 'WebhookEvents': "
        r"'payment.transaction.refunded' is not an event type .*known: payment.transaction.received",
    ):
        subscribed(Subscriber(event_types=("payment.transaction.refunded",)))


def test_event_types_given_as_one_string_is_refused():
    with pytest.raises(RegistrationError, match="a sequence of types, not the string"):
        subscribed(Subscriber(event_types=RECEIVED))


def test_fifo_queue_is_refused():
    with pytest.raises(RegistrationError, match="is FIFO, and only a FIFO topic delivers to one"):
        subscribed(Subscriber(fifo=True))


def test_queue_with_a_policy_of_its_own_is_refused():
    with pytest.raises(RegistrationError, match=r"merchant-webhooks/webhook_queue\) has a policy of its own"):
        subscribed(Subscriber(queue_policy=True))


def test_queue_subscribed_twice_is_refused():
    with pytest.raises(
        RegistrationError, match="'WebhookEventsAgain': queue 'webhook-events-test' already has a queue policy"
    ):
        subscribed(Subscriber(twice=True))


def test_queue_under_another_key_is_refused():
    with pytest.raises(RegistrationError, match="encrypted under a key other than the platform CMK"):
        subscribed(Subscriber(own_key=True))


@pytest.mark.parametrize(
    ("protocol", "delivered"),
    [("sqs", [RECEIVED]), ("lambda", ["payment.transaction.declined", RECEIVED])],
    ids=["listed-types", "every-type"],
)
@mock_aws
def test_the_synthesized_filter_delivers_payment_events_and_never_an_alarm(stack, protocol, delivered):
    """The filter policy as synthesized, applied by an SNS implementation (moto's): an event the
    runtime publishes arrives; a CloudWatch alarm (no message attributes) does not."""
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic_arn = sns.create_topic(Name="payment-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="webhook-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    synthesized = stack.one("aws_sns_topic_subscription", protocol=protocol)
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "FilterPolicy": synthesized["filter_policy"],
            "FilterPolicyScope": synthesized["filter_policy_scope"],
            "RawMessageDelivery": "true",
        },
    )
    alarm = {"AlarmName": "transaction-processor-errors-test", "NewStateValue": "ALARM"}
    sns.publish(TopicArn=topic_arn, Message=json.dumps(alarm), Subject="ALARM")
    sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps({"type": "payment.transaction.declined"}),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "payment.transaction.declined"}},
    )
    sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps({"type": RECEIVED}),
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": RECEIVED}},
    )
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["type"] for m in received) == delivered


@pytest.mark.terraform
def test_terraform_validate_accepts_a_subscription_through_the_topic(tmp_path):
    """The typed subscription's key statement makes no cycle: real `terraform validate` agrees
    (the same check reports ``Cycle: aws_sns_topic..., aws_kms_key...`` for the hand-written one)."""
    env = make_environment(["messaging", "merchant-webhooks"], suffix="test", region="us-east-1")
    synthesize([env], str(tmp_path / "out"), extra_plugins={"merchant-webhooks": Subscriber()})
    try:
        terraform = Terraform.locate(tmp_path / "out")
    except Exception as exc:  # no terraform binary on this machine
        pytest.skip(str(exc))
    if terraform.mirror is None and not os.environ.get("PAYMENTS_TF_ALLOW_REGISTRY"):
        pytest.skip("no provider mirror found and registry access not allowed (set PAYMENTS_TF_ALLOW_REGISTRY=1)")
    stack_dir = tmp_path / "out" / "stacks" / "payments-test"
    terraform.init(stack_dir)
    report = terraform.validate(stack_dir)
    assert report["valid"] is True and report["error_count"] == 0
