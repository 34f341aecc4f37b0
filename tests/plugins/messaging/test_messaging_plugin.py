"""The audit queue, the notifications topic and the settings the messaging plugin accepts."""

from __future__ import annotations

import json

import pytest

from payments_platform.core import ConfigError, keys
from payments_platform.core.testing import assert_resource, synth
from payments_platform.plugins.messaging.settings import MessagingSettings

QUEUE = "aws_sqs_queue"
TOPIC = "aws_sns_topic"


def policy_of(stack, resource_type, path="messaging/audit_queue"):
    if resource_type == QUEUE:  # two of them: the audit queue and its dead-letter queue, each with its policy
        _, body = stack.by_path(path)
    else:
        (body,) = stack.resources(resource_type).values()
    return {s["Sid"]: s for s in json.loads(body["policy"])["Statement"]}


def queue_arn(name):
    partition = "${data.aws_partition.platform_partition_3381385A.partition}"
    account = "${data.aws_caller_identity.platform_caller_A0BE4E88.account_id}"
    return f"arn:{partition}:sqs:us-east-1:{account}:{name}"


def key_ref(stack):
    (key_id,) = stack.resources("aws_kms_key")
    return f"${{aws_kms_key.{key_id}.arn}}"


# -- audit queue ---------------------------------------------------------------


def test_queue_is_a_fifo_queue_named_with_the_suffix(messaging_stack):
    assert_resource(messaging_stack, QUEUE, {"name": "transaction-queue-test.fifo", "fifo_queue": True})


def test_queue_deduplicates_on_content(messaging_stack):
    assert_resource(messaging_stack, QUEUE, {"content_based_deduplication": True})


def test_queue_keeps_messages_for_14_days(messaging_stack):
    assert_resource(messaging_stack, QUEUE, {"message_retention_seconds": 1_209_600})


def test_queue_is_encrypted_with_the_platform_cmk(messaging_stack):
    expected = {"kms_master_key_id": key_ref(messaging_stack), "kms_data_key_reuse_period_seconds": 300}
    assert_resource(messaging_stack, QUEUE, expected)


def test_queue_uses_high_throughput_fifo_by_default(messaging_stack):
    assert_resource(
        messaging_stack, QUEUE, {"deduplication_scope": "messageGroup", "fifo_throughput_limit": "perMessageGroupId"}
    )


def test_queue_policy_denies_every_sqs_action_without_tls(messaging_stack):
    assert policy_of(messaging_stack, QUEUE)["DenyInsecureTransport"] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["sqs:*"],
        "Resource": queue_arn("transaction-queue-test.fifo"),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_queue_policies_are_part_of_the_queues_not_resources_of_their_own(messaging_stack):
    # A separate aws_sqs_queue_policy costs one more ~25 s attribute wait after its queue's.
    assert messaging_stack.resources("aws_sqs_queue_policy") == {}


def test_the_former_separate_queue_policies_leave_the_state_without_being_destroyed(messaging_stack):
    """Destroying them would run DeleteQueuePolicy, possibly after the queue got its policy inline."""
    removed = messaging_stack.config["removed"]
    assert {entry["from"] for entry in removed} == {
        "aws_sqs_queue_policy.messaging_audit_queue_policy_42AD3EA3",
        "aws_sqs_queue_policy.messaging_audit_dead_letter_queue_policy_6A3ADA76",
    }
    assert all(entry["lifecycle"] == {"destroy": False} for entry in removed)


def test_published_queue_is_fifo_and_refers_to_the_queue(messaging_stack, queue_logical_id):
    queue, _ = messaging_stack.built.build.values[keys.AUDIT_QUEUE.name]
    outputs = messaging_stack.outputs()
    assert (queue.fifo, outputs["consumer_queue_name"]["value"], outputs["consumer_queue_url"]["value"]) == (
        True,
        f"${{aws_sqs_queue.{queue_logical_id}.name}}",
        f"${{aws_sqs_queue.{queue_logical_id}.url}}",
    )


def test_published_queue_arn_is_what_a_sender_is_granted_on(messaging_stack, queue_logical_id):
    statements = {s["Sid"]: s for s in messaging_stack.iam_statements("sender")}
    assert statements["SendAudit"]["Resource"] == f"${{aws_sqs_queue.{queue_logical_id}.arn}}"


def test_queue_and_its_dead_letter_queue_are_registered_for_monitoring_by_name(messaging_stack):
    queues = messaging_stack.built.build.monitoring.queues.all()
    assert [(q.key, q.queue_name, q.plugin, q.dead_letter_for) for q in queues] == [
        ("audit", "transaction-queue-test.fifo", "messaging", None),
        ("audit-dlq", "transaction-queue-dlq-test.fifo", "messaging", "transaction-queue-test.fifo"),
    ]


def _dead_letter_queue(stack):
    return stack.by_path("messaging/audit_dead_letter_queue")[1]


def test_dead_letter_queue_is_fifo_encrypted_and_keeps_messages_14_days(messaging_stack):
    body = _dead_letter_queue(messaging_stack)
    assert (body["name"], body["fifo_queue"], body["message_retention_seconds"]) == (
        "transaction-queue-dlq-test.fifo",
        True,
        1_209_600,
    )
    assert body["kms_master_key_id"] == key_ref(messaging_stack)


def test_queue_redrives_to_its_dead_letter_queue_after_five_receives(messaging_stack, queue_logical_id):
    (dlq_id,) = [
        i for i, b in messaging_stack.resources(QUEUE).items() if b["name"] == "transaction-queue-dlq-test.fifo"
    ]
    (redrive,) = messaging_stack.resources("aws_sqs_queue_redrive_policy").values()
    assert redrive["queue_url"] == f"${{aws_sqs_queue.{queue_logical_id}.url}}"
    assert redrive["redrive_policy"] == json.dumps(  # compact, as SQS reads it back: no diff on re-plan
        {"deadLetterTargetArn": f"${{aws_sqs_queue.{dlq_id}.arn}}", "maxReceiveCount": 5}, separators=(",", ":")
    )
    queue, _ = messaging_stack.built.build.values[keys.AUDIT_QUEUE.name]
    assert queue.dead_letter_queue_arn  # published, so a consumer can insist on it


def test_queue_is_created_without_waiting_for_its_dead_letter_queue(messaging_stack, queue_logical_id):
    # Inline, the redrive policy would put the dead-letter queue's ~25 s settle before the queue's.
    assert "redrive_policy" not in messaging_stack.resources(QUEUE)[queue_logical_id]


def test_dead_letter_queue_denies_every_sqs_action_without_tls(messaging_stack):
    statements = policy_of(messaging_stack, QUEUE, path="messaging/audit_dead_letter_queue")
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyInsecureTransport"]["Resource"] == queue_arn("transaction-queue-dlq-test.fifo")


def test_audit_queue_url_is_a_stack_output(messaging_stack, queue_logical_id):
    assert messaging_stack.outputs()["audit_queue_url"]["value"] == f"${{aws_sqs_queue.{queue_logical_id}.url}}"


# -- notifications topic -------------------------------------------------------


def test_topic_is_named_with_the_suffix_and_encrypted_with_the_cmk(messaging_stack):
    assert_resource(
        messaging_stack, TOPIC, {"name": "payment-notifications-test", "kms_master_key_id": key_ref(messaging_stack)}
    )


def test_topic_policy_denies_publish_and_subscribe_without_tls(messaging_stack, topic_logical_id):
    assert policy_of(messaging_stack, "aws_sns_topic_policy")["DenyInsecureTransport"] == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["sns:Publish", "sns:Subscribe"],
        "Resource": f"${{aws_sns_topic.{topic_logical_id}.arn}}",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_topic_policy_lets_only_this_accounts_cloudwatch_alarms_publish(messaging_stack, topic_logical_id):
    (caller_id,) = messaging_stack.data_sources("aws_caller_identity")
    statement = policy_of(messaging_stack, "aws_sns_topic_policy")["AllowCloudWatchAlarmsToPublish"]
    scoped_to = statement["Condition"]["StringEquals"]
    assert (statement["Principal"], statement["Action"], statement["Resource"], scoped_to) == (
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
        f"${{aws_sns_topic.{topic_logical_id}.arn}}",
        {"aws:SourceAccount": f"${{data.aws_caller_identity.{caller_id}.account_id}}"},
    )


def test_cloudwatch_may_use_the_cmk_only_for_this_accounts_alarms(messaging_stack):
    (key,) = messaging_stack.resources("aws_kms_key").values()
    (caller_id,) = messaging_stack.data_sources("aws_caller_identity")
    account = f"${{data.aws_caller_identity.{caller_id}.account_id}}"
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    statement = statements["AllowCloudWatchAlarmsToUseKey"]
    assert (statement["Principal"], statement["Action"], statement["Resource"]) == (
        {"Service": "cloudwatch.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey"],
        "*",
    )
    # Confused-deputy guard: no other account's alarm (or other CloudWatch use) gets the key.
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    (source_arn,) = statement["Condition"]["ArnLike"].values()
    assert source_arn.endswith(f":cloudwatch:us-east-1:{account}:alarm:*")


def test_every_configured_address_gets_an_email_subscription(messaging_stack, topic_logical_id, notification_emails):
    subscriptions = messaging_stack.resources("aws_sns_topic_subscription").values()
    assert sorted((s["protocol"], s["endpoint"], s["topic_arn"]) for s in subscriptions) == sorted(
        ("email", email, f"${{aws_sns_topic.{topic_logical_id}.arn}}") for email in notification_emails
    )


def test_published_topic_name_refers_to_the_topic(messaging_stack, topic_logical_id):
    assert messaging_stack.outputs()["consumer_topic_name"]["value"] == f"${{aws_sns_topic.{topic_logical_id}.name}}"


def test_published_topic_arn_is_what_a_publisher_is_granted_on(messaging_stack, topic_logical_id):
    statements = {s["Sid"]: s for s in messaging_stack.iam_statements("sender")}
    assert statements["PublishEvents"]["Resource"] == f"${{aws_sns_topic.{topic_logical_id}.arn}}"


def test_notifications_topic_arn_is_a_stack_output(messaging_stack, topic_logical_id):
    assert messaging_stack.outputs()["notifications_topic_arn"]["value"] == f"${{aws_sns_topic.{topic_logical_id}.arn}}"


# -- settings ------------------------------------------------------------------


def test_notification_email_defaults_to_admin():
    assert MessagingSettings().notification_emails == ("admin@example.com",)


def test_bad_notification_email_is_a_config_error_naming_plugin_and_setting():
    refused = r"plugin 'messaging', setting 'notification_email':.*'payments-oncall' is not an email"
    with pytest.raises(ConfigError, match=refused):
        synth(["messaging"], settings={"messaging": {"notification_email": "payments-oncall"}}, cache=False)


def test_bad_extra_email_is_a_config_error():
    with pytest.raises(ConfigError, match=r"setting 'extra_notification_emails':.*'ops@' is not an email"):
        synth(["messaging"], settings={"messaging": {"extra_notification_emails": ["ops@"]}}, cache=False)


def test_address_listed_twice_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'Admin@Example.com' repeats 'admin@example.com'"):
        synth(["messaging"], settings={"messaging": {"extra_notification_emails": ["Admin@Example.com"]}}, cache=False)


def test_unknown_setting_is_a_config_error_naming_plugin_and_setting():
    with pytest.raises(ConfigError, match=r"plugin 'messaging', setting 'notification_emails'"):
        synth(["messaging"], settings={"messaging": {"notification_emails": ["ops@example.com"]}}, cache=False)
