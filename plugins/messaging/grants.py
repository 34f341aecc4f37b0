"""Least-privilege grants on the audit queue and the notifications topic.

The api plugin calls these in its ``wiring`` phase. Both the queue and the topic are
encrypted with the platform CMK, so sending needs key use as well, confined by
``kms:ViaService`` to calls the messaging service makes on the sender's behalf.
"""

from __future__ import annotations

from typing import Any

from payments_platform.core import keys
from payments_platform.core.roles import grant_key_via_service

# SQS and SNS server-side encryption: the service generates a data key under the CMK for the
# messages it stores (GenerateDataKey) and decrypts cached data keys (Decrypt) -- both with
# the sender's credentials. Nothing here lets a sender read messages back.
_SEND_KEY_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def grant_queue_send(roles: Any, role: Any, queue: keys.Queue, kms_key: keys.KmsKey, *, sid: str, region: str) -> None:
    """``sqs:SendMessage`` on ``queue`` (statement ``sid``) and its key use (``{sid}Kms``)."""
    roles.grant(role, sid=sid, actions=["sqs:SendMessage"], resources=[queue.arn])
    grant_key_via_service(
        roles, role, kms_key.arn, sid=f"{sid}Kms", actions=_SEND_KEY_ACTIONS, service="sqs", region=region
    )


def grant_topic_publish(
    roles: Any, role: Any, topic: keys.Topic, kms_key: keys.KmsKey, *, sid: str, region: str
) -> None:
    """``sns:Publish`` on ``topic`` (statement ``sid``) and its key use (``{sid}Kms``)."""
    roles.grant(role, sid=sid, actions=["sns:Publish"], resources=[topic.arn])
    grant_key_via_service(
        roles, role, kms_key.arn, sid=f"{sid}Kms", actions=_SEND_KEY_ACTIONS, service="sns", region=region
    )
