"""The currencies the API accepts, with their ISO 4217 minor-unit exponent and amount bounds.

Amounts are integers in minor units. The upper bound is set per currency so that it means
roughly the same value everywhere (about 1,000,000 USD), which is also why it cannot live in the
gateway's JSON schema beyond a single global ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int
    max_amount: int  # in minor units, inclusive

    @property
    def amount_step(self) -> int:
        # Three-decimal currencies are settled by card acquirers in multiples of 10 minor units
        # (the last digit must be 0), as the major processors require.
        return 10 if self.exponent == 3 else 1


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("AUD", 2, 150_000_000),
        Currency("BHD", 3, 400_000_000),
        Currency("CAD", 2, 140_000_000),
        Currency("CHF", 2, 100_000_000),
        Currency("CZK", 2, 2_500_000_000),
        Currency("DKK", 2, 700_000_000),
        Currency("EUR", 2, 100_000_000),
        Currency("GBP", 2, 100_000_000),
        Currency("HKD", 2, 800_000_000),
        Currency("JPY", 0, 150_000_000),
        Currency("KRW", 0, 1_400_000_000),
        Currency("KWD", 3, 300_000_000),
        Currency("NOK", 2, 1_000_000_000),
        Currency("NZD", 2, 170_000_000),
        Currency("PLN", 2, 400_000_000),
        Currency("SEK", 2, 1_000_000_000),
        Currency("SGD", 2, 140_000_000),
        Currency("USD", 2, 100_000_000),
    )
}

# The single ceiling the gateway schema can express (draft-04 has no per-currency bounds).
GLOBAL_MAX_AMOUNT = max(c.max_amount for c in CURRENCIES.values())
