"""What the gateway process is started (and reloaded) with: ``gateway-spec.json`` in the run directory.

Written by ``local up`` (lifecycle.py) and by ``--watch`` for each reload (watch.py), read by the
gateway process (apigw/server.py). Its functions are as read from the emulator (deployed_stack.py),
each with the credentials of its own identity; the APIs, schedules and event sources the gateway
reads itself from the emulator, for the stack in ``stack_dir``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from payments_platform.core.local.lambdafn.deployed_functions import spec_from_json, spec_to_json
from payments_platform.core.local.lambdafn.service import FunctionSpec
from payments_platform.core.local.processes import write_json_atomically

# function name → the environment variables of its identity (AWS_ACCESS_KEY_ID, ...)
Credentials = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class GatewaySpec:
    endpoint: str  # the emulator
    region: str
    stack_dir: Path  # the synthesized stack the emulator holds (its APIs are read by name from it)
    host: str
    port: int  # 0: any free one
    ready_file: Path
    functions: tuple[FunctionSpec, ...]
    credentials: Credentials
    control_socket: Path | None = None  # `local up --watch` reloads through it

    @property
    def function_names(self) -> set[str]:
        return {f.name for f in self.functions}

    def with_functions(self, functions: tuple[FunctionSpec, ...], credentials: Credentials) -> GatewaySpec:
        return dataclasses.replace(self, functions=functions, credentials=credentials)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "stack_dir": str(self.stack_dir),
            "host": self.host,
            "port": self.port,
            "ready_file": str(self.ready_file),
            "control_socket": str(self.control_socket) if self.control_socket else None,
            "functions": [spec_to_json(f) for f in self.functions],
            "credentials": {name: dict(values) for name, values in self.credentials.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GatewaySpec:
        return cls(
            endpoint=data["endpoint"],
            region=data["region"],
            stack_dir=Path(data["stack_dir"]),
            host=data["host"],
            port=int(data["port"]),
            ready_file=Path(data["ready_file"]),
            control_socket=Path(data["control_socket"]) if data.get("control_socket") else None,
            functions=tuple(spec_from_json(f) for f in data["functions"]),
            credentials={name: dict(values) for name, values in data["credentials"].items()},
        )

    def write(self, path: Path) -> None:
        write_json_atomically(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> GatewaySpec:
        return cls.from_json(json.loads(path.read_text()))
