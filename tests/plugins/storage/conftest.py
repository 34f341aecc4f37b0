"""Fixtures for the storage plugin tests: one synthesized stack, shared by every test."""

from __future__ import annotations

from typing import Any

import pytest

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.testing import SynthesizedStack, synth


class TableConsumer:
    """Stands in for the api plugin: reads the published table the way a consumer would."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(name="consumer", description="test consumer", requires=(keys.TRANSACTIONS_TABLE,))

    @hookimpl
    def payments_resources(self, ctx: Any) -> None:
        ctx.roles.role("writer", description="test writer of the transactions table")

    @hookimpl
    def payments_wiring(self, ctx: Any) -> None:
        table = ctx[keys.TRANSACTIONS_TABLE]
        table.grant_write(ctx.roles, "writer", sid="WriteTransactions")
        ctx.outputs.add("consumer_table_name", table.name, description="the table name the consumer received")


CONSUMER = TableConsumer()


@pytest.fixture(scope="session")
def storage_stack() -> SynthesizedStack:
    return synth(["storage"], extra_plugins={"consumer": CONSUMER})


@pytest.fixture(scope="session")
def relaxed_storage_stack() -> SynthesizedStack:
    """A non-production environment that turns off everything the storage settings can."""
    return synth(["storage"], settings={"storage": {"ttl_enabled": False, "point_in_time_recovery": False}})


@pytest.fixture(scope="session")
def table_logical_id(storage_stack: SynthesizedStack) -> str:
    (logical_id,) = storage_stack.resources("aws_dynamodb_table")
    return logical_id
