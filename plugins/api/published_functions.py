"""The api plugin's functions as published values (plugin API 1.1): another plugin that lets one of
them use what it owns declares the key and grants to ``ctx[keys.TRANSACTION_PROCESSOR].role``,
never naming the role."""

from __future__ import annotations

from collections.abc import Mapping

from payments_platform.core import ContextKey, PluginContext, keys

from .definition import CARD_FINGERPRINT_ROTATOR, STATUS_CHECKER, TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER

FUNCTION_KEYS: Mapping[str, ContextKey[keys.Function]] = {
    TRANSACTION_PROCESSOR: keys.TRANSACTION_PROCESSOR,
    STATUS_CHECKER: keys.STATUS_CHECKER,
    TRANSACTION_RECONCILER: keys.TRANSACTION_RECONCILER,
    CARD_FINGERPRINT_ROTATOR: keys.CARD_FINGERPRINT_ROTATOR,
}


def publish_functions(ctx: PluginContext, functions: Mapping[str, keys.Function]) -> None:
    """Publish each function as built: its names and ARNs are references, so what another plugin
    builds from them is ordered after the function."""
    for function_key, context_key in FUNCTION_KEYS.items():
        ctx[context_key] = functions[function_key]
