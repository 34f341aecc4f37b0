"""What plugins register for observability: functions, tables, APIs, queues, log groups.

The observability plugin builds dashboards and alarms from these registrations, never
from hard-coded names; the audit plugin archives every registered log group. Each entry
remembers the plugin that registered it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import RegistrationError


@dataclass(frozen=True)
class MonitoredFunction:
    key: str
    function_name: str
    log_group_name: str
    plugin: str


@dataclass(frozen=True)
class MonitoredTable:
    key: str
    table_name: str
    plugin: str


@dataclass(frozen=True)
class MonitoredApi:
    key: str
    api_name: str
    stage_name: str
    plugin: str


@dataclass(frozen=True)
class MonitoredQueue:
    key: str
    queue_name: str
    plugin: str
    # Set on a dead-letter queue: the queue whose failed messages it holds. Anything visible
    # in a dead-letter queue is a message nobody processed, so it alarms on the first one.
    dead_letter_for: str | None = None


@dataclass(frozen=True)
class MonitoredLogGroup:
    """A log group whose events belong to the audit trail (PCI DSS 10.2). ``log_group_name``
    and ``log_group_arn`` are references to the log group resource (tokens), so whoever
    subscribes to it is created after it."""

    key: str
    log_group_name: str
    log_group_arn: str
    plugin: str


E = TypeVar("E", MonitoredFunction, MonitoredTable, MonitoredApi, MonitoredQueue, MonitoredLogGroup)


class _Catalog(Generic[E]):
    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._entries: dict[str, E] = {}

    def add(self, entry: E) -> E:
        if entry.key in self._entries:
            other = self._entries[entry.key]
            raise RegistrationError(
                f"plugin '{entry.plugin}' registered {self._kind} '{entry.key}', already registered by plugin '{other.plugin}'"
            )
        self._entries[entry.key] = entry
        return entry

    def all(self) -> list[E]:
        return [self._entries[k] for k in sorted(self._entries)]


class MonitoringRegistry:
    def __init__(self) -> None:
        self.functions: _Catalog[MonitoredFunction] = _Catalog("function")
        self.tables: _Catalog[MonitoredTable] = _Catalog("table")
        self.apis: _Catalog[MonitoredApi] = _Catalog("api")
        self.queues: _Catalog[MonitoredQueue] = _Catalog("queue")
        self.log_groups: _Catalog[MonitoredLogGroup] = _Catalog("log group")
