"""The payment connector (plugin API 1.2, ``keys.PAYMENT_CONNECTOR``), when one is enabled: the
processor authorizes each transaction through it and the reconciler asks it for the outcomes it
did not get (runtime/transaction_lifecycle.py). Both may only invoke it -- the connector runs with
its own role and holds the acquirer's credentials -- and learn its name from their environment;
they reach Lambda's API through its interface endpoint, asked of the network (``require_service``).

Without a connector the environment is *intake only*: transactions stay ``received``, nothing of
this module is built, and synth says so once.

Read in ``wiring``: the connector plugin requires this plugin's runtime package, so it builds its
function after this plugin's resources exist (core/host/builder.py: a use yields to a requirement).
"""

from __future__ import annotations

from collections.abc import Mapping

from payments_platform.core import PluginContext, keys

from .definition import TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER
from .functions import FUNCTIONS, function_environment
from .settings import ApiSettings

# Transaction items' partition key: runtime/transaction_records.py new_transaction_id's prefix.
TRANSACTION_KEY_PATTERN = "txn_*"
CONNECTOR_CALLERS = (TRANSACTION_PROCESSOR, TRANSACTION_RECONCILER)


def connect_payment_connector(ctx: PluginContext, functions: Mapping[str, keys.Function], secret_arn: str) -> None:
    connector = ctx.get(keys.PAYMENT_CONNECTOR)
    if connector is None:
        ctx.note("intake only: no payment connector is enabled; transactions stay 'received'")
        return
    settings: ApiSettings = ctx.settings
    ctx.note(f"payments are authorized by {connector.display_name} (keys.PAYMENT_CONNECTOR)")
    # The callers invoke it from the private subnets: Lambda's API through its interface endpoint.
    ctx[keys.NETWORK].require_service(ctx, "lambda")
    environment = function_environment(ctx, settings, secret_arn) | {
        "CONNECTOR_FUNCTION_NAME": connector.function.name,
        "AUTHORIZATION_BUDGET_MS": str(settings.authorization_budget_ms),
    }
    for spec in FUNCTIONS:
        if spec.key not in CONNECTOR_CALLERS:
            continue
        function = functions[spec.key]
        connector.function.grant_invoke(ctx.roles, function, sid="PaymentConnectorInvoke")
        names = (*spec.environment, "CONNECTOR_FUNCTION_NAME", "AUTHORIZATION_BUDGET_MS")
        function.resource.put_environment(variables={name: environment[name] for name in names})
    # The reconciler writes the outcome it learns on the transaction itself, not only its record.
    ctx[keys.TRANSACTIONS_TABLE].grant(
        ctx.roles,
        functions[TRANSACTION_RECONCILER],
        actions=("dynamodb:UpdateItem",),
        sid="TransactionsTableOutcome",
        partition_key_patterns=[TRANSACTION_KEY_PATTERN],
    )
