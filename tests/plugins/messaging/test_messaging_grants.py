"""grant_queue_send / grant_topic_publish: how another plugin's function sends messages."""

from __future__ import annotations

from payments_platform.core import keys
from payments_platform.plugins.messaging.grants import grant_queue_send, grant_topic_publish

QUEUE = keys.Queue(
    name="transaction-queue-test.fifo",
    arn="arn:aws:sqs:us-east-1:123456789012:transaction-queue-test.fifo",
    url="https://sqs.us-east-1.amazonaws.com/123456789012/transaction-queue-test.fifo",
    fifo=True,
)
TOPIC = keys.Topic(
    name="payment-notifications-test", arn="arn:aws:sns:us-east-1:123456789012:payment-notifications-test"
)
KMS = keys.KmsKey(arn="arn:aws:kms:us-east-1:123456789012:key/k", key_id="k", alias_name="alias/payments-key-test")


def test_queue_send_grants_send_message_on_the_queue_only(roles):
    grant_queue_send(roles, "fn", QUEUE, KMS, sid="SendAudit", region="eu-west-1")
    statement = roles.statements()["SendAudit"]
    assert (statement["Action"], statement["Resource"]) == (["sqs:SendMessage"], QUEUE.arn)


def test_queue_send_key_use_is_through_sqs_in_the_region(roles):
    grant_queue_send(roles, "fn", QUEUE, KMS, sid="SendAudit", region="eu-west-1")
    assert roles.statements()["SendAuditKms"] == {
        "Sid": "SendAuditKms",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KMS.arn,
        "Condition": {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}},
    }


def test_topic_publish_grants_publish_on_the_topic_only(roles):
    grant_topic_publish(roles, "fn", TOPIC, KMS, sid="PublishEvents", region="eu-west-1")
    statement = roles.statements()["PublishEvents"]
    assert (statement["Action"], statement["Resource"]) == (["sns:Publish"], TOPIC.arn)


def test_topic_publish_key_use_is_through_sns_in_the_region(roles):
    grant_topic_publish(roles, "fn", TOPIC, KMS, sid="PublishEvents", region="eu-west-1")
    assert roles.statements()["PublishEventsKms"] == {
        "Sid": "PublishEventsKms",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KMS.arn,
        "Condition": {"StringEquals": {"kms:ViaService": "sns.eu-west-1.amazonaws.com"}},
    }
