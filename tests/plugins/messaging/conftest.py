"""Fixtures for the messaging plugin tests: one synthesized stack, shared by every test."""

from __future__ import annotations

from typing import Any

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.testing import SynthesizedStack, synth

ONCALL = "payments-oncall@example.com"
FRAUD_TEAM = "fraud-team@example.com"


class MessagingConsumer:
    """Stands in for the api plugin: sends to the published queue and topic."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(
            name="consumer", description="test consumer", requires=(keys.AUDIT_QUEUE, keys.NOTIFICATIONS_TOPIC)
        )

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        ctx.roles.role("sender", description="test sender to the audit queue and notifications topic")

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        queue, topic = ctx[keys.AUDIT_QUEUE], ctx[keys.NOTIFICATIONS_TOPIC]
        queue.grant_send(ctx.roles, "sender", sid="SendAudit")
        topic.grant_publish(ctx.roles, "sender", sid="PublishEvents")
        ctx.outputs.add("consumer_queue_url", queue.url, description="the queue URL the consumer received")
        ctx.outputs.add("consumer_queue_name", queue.name, description="the queue name the consumer received")
        ctx.outputs.add("consumer_topic_name", topic.name, description="the topic name the consumer received")


CONSUMER = MessagingConsumer()


@pytest.fixture(scope="session")
def messaging_stack() -> SynthesizedStack:
    return synth(
        ["messaging"],
        extra_plugins={"consumer": CONSUMER},
        settings={"messaging": {"notification_email": ONCALL, "extra_notification_emails": [FRAUD_TEAM]}},
    )


@pytest.fixture(scope="session")
def notification_emails() -> tuple[str, ...]:
    """The addresses ``messaging_stack`` is configured to notify."""
    return (ONCALL, FRAUD_TEAM)


@pytest.fixture(scope="session")
def queue_logical_id(messaging_stack: SynthesizedStack) -> str:
    (logical_id,) = [
        i for i, b in messaging_stack.resources("aws_sqs_queue").items() if b["name"] == "transaction-queue-test.fifo"
    ]
    return logical_id


@pytest.fixture(scope="session")
def topic_logical_id(messaging_stack: SynthesizedStack) -> str:
    (logical_id,) = messaging_stack.resources("aws_sns_topic")
    return logical_id
