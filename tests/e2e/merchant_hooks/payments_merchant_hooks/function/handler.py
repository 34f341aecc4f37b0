"""The merchant webhook sender: each payment event from the queue, POSTed to the merchant, signed.

Standard Webhooks' scheme: ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``
under the merchant's shared secret (Secrets Manager, the platform CMK). A delivery that fails
raises, so SQS delivers the event again, then moves it to the dead-letter queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.request
from typing import Any

import boto3
from payments_runtime.logging_config import configure_logging, get_logger

configure_logging()
log = get_logger()
_secrets = boto3.client("secretsmanager")


def signature(secret: bytes, event_id: str, timestamp: str, body: str) -> str:
    digest = hmac.new(secret, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def handle(event: dict[str, Any], context: Any) -> None:
    secret = _secrets.get_secret_value(SecretId=os.environ["SIGNING_SECRET_ARN"])["SecretString"].encode()
    for record in event["Records"]:
        body = record["body"]  # raw message delivery: the event as the platform published it
        event_id = json.loads(body)["event_id"]
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            os.environ["MERCHANT_URL"],
            data=body.encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": event_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": signature(secret, event_id, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                log.info("webhook_delivered", event_id=event_id, status=answer.status)
        except OSError as error:
            log.error("webhook_not_delivered", event_id=event_id, error=str(error))
            raise
