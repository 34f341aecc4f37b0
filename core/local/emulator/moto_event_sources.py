"""SQS event source mappings: Lambda polls the queue, the queue never calls Lambda.

On AWS an event source mapping is a poller Lambda runs: it receives a batch, invokes the function
and deletes what the function processed. moto instead runs the mapping inside SendMessage: it
receives the batch at once and invokes the function through its Docker-based Lambda -- absent
here, so every audit message was received, failed and made visible again (its receive count
climbing towards the dead-letter queue) during the processor's own SendMessage. Patched: moto
stores and returns the mapping as before (CreateEventSourceMapping, List/Get, Update, Delete),
but SQS no longer runs it; the local Lambda service polls each deployed mapping as Lambda does
(core/local/lambdafn/event_sources.py).

Upstream: moto.sqs.models.Queue.add_message should not invoke ``lambda_event_source_mappings``
synchronously (or moto should offer a switch to leave polling to an external Lambda), and
moto.awslambda.models.LambdaBackend.delete_event_source_mapping should remove the mapping from the
queue too (a deleted mapping kept being invoked).
"""

from __future__ import annotations

import threading
from typing import Any

_install_lock = threading.Lock()
_PATCHED = "_payments_event_source_patch"


def patch_sqs_event_source_delivery() -> None:
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend.create_event_source_mapping, _PATCHED, False):
        return
    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                # Kept by the Lambda backend (List/Get/Update/Delete); SQS must not run it.
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    setattr(create_event_source_mapping, _PATCHED, True)
    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def install() -> None:
    with _install_lock:
        patch_sqs_event_source_delivery()
