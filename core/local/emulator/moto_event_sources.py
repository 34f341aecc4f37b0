"""SQS event source mappings: Lambda polls the queue, the queue never calls Lambda.

On AWS an event source mapping is a poller Lambda runs: it receives a batch, invokes the function
and deletes what the function processed. moto instead runs the mapping inside SendMessage: it
receives the batch at once and invokes the function through its Docker-based Lambda -- absent
here, so every audit message was received, failed and made visible again (its receive count
climbing towards the dead-letter queue) during the processor's own SendMessage. Patched: moto
stores and returns the mapping as before (CreateEventSourceMapping, List/Get, Update, Delete),
but SQS no longer runs it; the local Lambda service polls each deployed mapping as Lambda does
(core/local/lambdafn/event_sources.py).
"""

from __future__ import annotations

from typing import Any

from payments_platform.core.local.emulator.patching import Patches

PATCHES = Patches("event_sources")


@PATCHES.replaces("moto.awslambda.models:LambdaBackend", "create_event_source_mapping")
def sqs_event_source_mappings_are_polled_not_pushed(original: Any) -> Any:
    """The mapping is stored (List/Get/Update/Delete answer as before); the queue is not told of it.

    Upstream: moto.sqs.models.Queue.add_message should not invoke ``lambda_event_source_mappings``
    synchronously (or moto should offer a switch leaving the polling to an external Lambda), and
    LambdaBackend.delete_event_source_mapping should remove the mapping from the queue too (a
    deleted mapping kept being invoked)."""

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    return create_event_source_mapping


def install() -> None:
    """Apply the event source patch to moto in this process (idempotent)."""
    PATCHES.install()
