"""The payment connector's part of the payments chaos scenario (issue #28): where a connector
authorizes payments, the load pays with a mix of the acquirer simulator's test cards while faults
hit the connector -- its ledger writes failing after they commit (a connector error), stalling past
the processor's budget (an answer slower than the budget), processor containers killed while they
wait on the connector and connector containers killed mid-call -- and the steady state includes the
connector's: every transaction ends in the status its card dictates, the simulator's ledger holds at
most one authorization per payment, no card data in the connector's log group or ledger.

The connector is found the way the processor finds it (its ``CONNECTOR_FUNCTION_NAME``); its ledger
is read only when the connector is the acquirer simulator (its ``LEDGER_TABLE_NAME`` setting,
documented in runtime/acquirer_simulator.py): another connector decides other outcomes, and this
scenario then runs without connector faults.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from payments_platform.core import FUNCTION_SERVICE, FaultRule, LocalDeployment

# The outcomes the issue prescribes for Stripe's test cards (issue #28 item 2), written down here
# rather than read from the simulator's code: the proof checks the simulator against the spec.
STRIPE_TEST_CARDS: dict[str, tuple[str, str | None]] = {
    "4242424242424242": ("authorized", None),
    "4000000000000002": ("declined", "generic_decline"),
    "4000000000009995": ("declined", "insufficient_funds"),
    "4000000000000069": ("declined", "expired_card"),
    "4000000000000127": ("declined", "incorrect_cvc"),
    "4000000000000119": ("failed", "processing_error"),
}
# The simulator's card that is recorded at once and answered past the budget (runtime/acquirer_simulator.py).
SLOW_CARD = "4000000000007775"
# Cards with no test meaning are authorized: a Mastercard and an American Express number.
OTHER_CARDS = {"5555555555554444": ("authorized", None), "378282246310005": ("authorized", None)}
# The status query's answer when the acquirer never saw the authorize (runtime/connector_protocol.py).
NOT_SUBMITTED = ("failed", "not_submitted")

CARD_MIX = (*STRIPE_TEST_CARDS, *OTHER_CARDS)
# One payment in KILL_EVERY is aimed at by a container kill (alternately the processor waiting on
# the connector and the connector mid-call), paid with the slow card so the kill strikes while
# the connector holds the call: the slow card is recorded at once and answered seconds later.
KILL_EVERY = 12
PROCESSOR_KILL_MS = 1_500  # the processor has written `processing` and waits on the connector
CONNECTOR_KILL_MS = 1_000  # the connector has recorded its answer and not given it yet


def expected_outcome(pan: str) -> tuple[str, str | None]:
    if pan == SLOW_CARD:
        return "authorized", None
    return STRIPE_TEST_CARDS.get(pan) or OTHER_CARDS[pan]


def card_for(number: int) -> tuple[str, str, str]:
    """(PAN, CVC, how the payment is aimed at) of the ``number``-th payment: ``wait`` (its processor
    is killed waiting on the connector), ``cut`` (its connector is killed mid-call) or ``mix``."""
    if number % KILL_EVERY == KILL_EVERY - 1:
        aim = "wait" if (number // KILL_EVERY) % 2 == 0 else "cut"
        return SLOW_CARD, "123", aim
    pan = CARD_MIX[number % len(CARD_MIX)]
    return pan, "1234" if pan.startswith("37") else "123", "mix"


@dataclass(frozen=True)
class ConnectorUnderTest:
    function: str  # the connector's function name
    budget_ms: int  # how long the processor waits for its answer
    ledger_table: str | None  # the acquirer simulator's authorization ledger; None: another connector

    @classmethod
    def of(cls, deployment: LocalDeployment, processor_variables: Mapping[str, str]) -> ConnectorUnderTest | None:
        function = processor_variables.get("CONNECTOR_FUNCTION_NAME")
        if not function:
            return None  # intake only
        variables = deployment.client("lambda").get_function_configuration(FunctionName=function)
        ledger = variables.get("Environment", {}).get("Variables", {}).get("LEDGER_TABLE_NAME")
        return cls(function, int(processor_variables.get("AUTHORIZATION_BUDGET_MS") or 3000), ledger)

    @property
    def is_simulator(self) -> bool:
        return self.ledger_table is not None

    def faults(self, processor: str, aim_marker: str) -> list[FaultRule]:
        """Faults into the connector's real calls: its ledger (the emulator) and its and the
        processor's containers (the local Lambda service), each kill aimed by the payment's reference."""
        if self.ledger_table is None:
            return []
        return [
            # A connector error after its ledger write committed: the processor gets a function error.
            FaultRule(
                "error_after",
                "dynamodb",
                "PutItem",
                resource=self.ledger_table,
                error="internal",
                probability=0.1,
                count=10,
            ),
            # An answer slower than the budget: the processor answers 202 processing and leaves.
            FaultRule(
                "stall", "dynamodb", "PutItem", resource=self.ledger_table, delay_ms=self.budget_ms + 700, count=4
            ),
            FaultRule(
                "kill", FUNCTION_SERVICE, resource=processor, contains=f"{aim_marker}wait-", delay_ms=PROCESSOR_KILL_MS
            ),
            FaultRule(
                "kill",
                FUNCTION_SERVICE,
                resource=self.function,
                contains=f"{aim_marker}cut-",
                delay_ms=CONNECTOR_KILL_MS,
            ),
        ]


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page = dynamodb.scan(TableName=table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


@dataclass
class LedgerCheck:
    """The connector's steady state, from the transactions table and the simulator's ledger."""

    transactions: Mapping[str, Mapping[str, Any]]  # transaction id → its item (the answered payments)
    cards: Mapping[str, str]  # transaction id → the PAN it was paid with (in memory only)
    amounts: Mapping[int, str]  # amount → transaction id (each payment of the run has its own amount)
    ledger: Sequence[Mapping[str, Any]]  # the ledger's items recorded since the run started

    def failures(self) -> list[str]:
        failures = []
        by_key = {item["idempotency_key"]["S"]: item for item in self.ledger}
        authorizations = Counter(
            int(item["amount"]["N"])
            for item in self.ledger
            if item.get("recorded_by", {}).get("S") == "authorize"
            and int(item.get("amount", {}).get("N", -1)) in self.amounts
        )
        doubled = sorted(self.amounts[a] for a, n in authorizations.items() if n > 1)
        if doubled:
            failures.append(f"{len(doubled)} payments authorized more than once in the ledger: {doubled[:5]}")
        strays = sorted(
            key
            for key, item in by_key.items()
            if key not in self.transactions and int(item.get("amount", {}).get("N", -1)) in self.amounts
        )
        if strays:
            failures.append(
                f"{len(strays)} ledger authorizations under keys no transaction of the run has: {strays[:5]}"
            )
        wrong = []
        for transaction_id, item in self.transactions.items():
            status = (item["status"]["S"], item.get("decline_code", {}).get("S"))
            entry = by_key.get(transaction_id)
            if entry is None:
                wrong.append(f"{transaction_id}: {status[0]} with no ledger entry")
                continue
            recorded = (entry["outcome"]["S"], entry.get("decline_code", {}).get("S"))
            # The acquirer's answer is the card's, unless it never saw the authorize (a status
            # query came first and closed the key): then `failed`/`not_submitted`, never authorized.
            dictated = (
                NOT_SUBMITTED if entry["recorded_by"]["S"] == "status" else expected_outcome(self.cards[transaction_id])
            )
            if recorded != dictated or status != dictated:
                wrong.append(f"{transaction_id}: {status}, ledger {recorded}, its card dictates {dictated}")
        if wrong:
            failures.append(f"{len(wrong)} transactions not in the status their card dictates: {wrong[:5]}")
        return failures

    def figures(self) -> dict[str, Any]:
        recorded_by = Counter(item.get("recorded_by", {}).get("S", "?") for item in self.ledger)
        statuses = Counter(item["status"]["S"] for item in self.transactions.values())
        return {
            "statuses": dict(statuses),
            "ledger_authorizations": recorded_by["authorize"],
            "not_submitted": recorded_by["status"],
        }
