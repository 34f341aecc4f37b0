"""Sending the audit message (SQS FIFO) and payment event (SNS) of a transaction's transition
(its creation, ``received``, or a later status: transaction_lifecycle.py)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .record_codec import refuse_card_data
from .transaction_records import Transaction, event_type, transition_id


def message_group_id(client_id: str) -> str:
    # Ordered per client, parallel across clients; a digest keeps it within SQS's 128-character
    # alphabet whatever the identity looks like (IAM ARNs can be long).
    return "client-" + hashlib.sha256(client_id.encode("utf-8")).hexdigest()[:40]


class DispatchFailed(Exception):
    """Sending failed part-way: what had been sent, and why the rest was not."""

    def __init__(self, audit_sent: bool, event_published: bool, cause: BaseException):
        super().__init__("dispatch failed")
        self.audit_sent = audit_sent
        self.event_published = event_published
        self.cause = cause


class TransactionDispatcher:
    def __init__(self, sqs: Any, sns: Any, audit_queue_url: str, notifications_topic_arn: str, environment: str):
        self._sqs = sqs
        self._sns = sns
        self._queue_url = audit_queue_url
        self._topic_arn = notifications_topic_arn
        self._environment = environment

    def send_audit(self, transaction: Transaction, request_id: str) -> None:
        body = transaction.audit_message(request_id, self._environment)
        refuse_card_data(json.loads(body), "audit_message")
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageGroupId=message_group_id(transaction.client_id),
            # FIFO deduplication (5-minute window) makes a resumed dispatch safe to repeat; one id
            # per transition.
            MessageDeduplicationId=transition_id(transaction.transaction_id, transaction.status),
        )

    def publish_event(self, transaction: Transaction) -> None:
        message = transaction.payment_event(self._environment)
        refuse_card_data(json.loads(message), "payment_event")
        self._sns.publish(
            TopicArn=self._topic_arn,
            Message=message,
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": event_type(transaction.status)},
                "currency": {"DataType": "String", "StringValue": transaction.currency},
            },
        )

    def send_missing(
        self, transaction: Transaction, request_id: str, *, audit_sent: bool, event_published: bool
    ) -> None:
        """Send whichever of the audit message and the event is not yet sent; the same messages
        (same deduplication id, group and event id) whoever sends them -- request, retry or
        reconciler. Raises DispatchFailed naming what was sent."""
        try:
            if not audit_sent:
                self.send_audit(transaction, request_id)
                audit_sent = True
            if not event_published:
                self.publish_event(transaction)
                event_published = True
        except Exception as error:
            raise DispatchFailed(audit_sent, event_published, error) from error
