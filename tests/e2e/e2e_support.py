"""What the end-to-end fixtures and tests share: the deployed environment and its clients."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from payments_platform.core.config import EnvironmentConfig
from payments_platform.core.synth import SynthResult
from payments_platform.core.terraform import Terraform
from payments_platform.core.testing.emulator import ADMIN_CREDENTIALS

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENT = "local"
REGION = "us-east-1"
PARALLELISM = "-parallelism=10"
APPLY_TIMEOUT_S = 600
OUTPUT_TAIL_LINES = 40
# Measured durations (seconds) of this run, for the terminal summary.
TIMINGS: dict[str, float] = {}


def output_tail(result: subprocess.CompletedProcess[str], lines: int = OUTPUT_TAIL_LINES) -> str:
    """The end of what terraform printed, for assertion messages."""
    parts = []
    for name, text in (("stderr", result.stderr), ("stdout", result.stdout)):
        tail = "\n".join((text or "").rstrip().splitlines()[-lines:])
        parts.append(f"--- {name} (last {lines} lines) ---\n{tail or '(empty)'}")
    return "\n".join(parts)


@dataclass
class LocalDeployment:
    """The `local` environment applied to the emulator at ``endpoint``; ``client`` signs as its
    administrator."""

    endpoint: str
    environment: EnvironmentConfig
    synth: SynthResult
    stack_dir: Path
    terraform: Terraform
    outputs: dict[str, Any] = field(default_factory=dict)
    apply_seconds: float = 0.0
    destroy_seconds: float | None = None
    _destroy_result: subprocess.CompletedProcess[str] | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        """The synthesized Terraform JSON of the stack."""
        return self.synth.configs[self.environment.stack_name]

    @property
    def state_file(self) -> Path:
        return (self.stack_dir / "../../.." / f"terraform.{self.environment.stack_name}.tfstate").resolve()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session = boto3.session.Session(region_name=REGION, **ADMIN_CREDENTIALS)
            self._clients[service] = session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    def run(self, *args: str, timeout: float = APPLY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return self.terraform.run(list(args), self.stack_dir, timeout=timeout)

    def check(self, *args: str, timeout: float = APPLY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run terraform and fail the test with the tail of its output when it fails."""
        result = self.run(*args, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} failed (exit {result.returncode})\n{output_tail(result)}")
        return result

    @property
    def destroyed(self) -> bool:
        return self._destroy_result is not None

    def destroy(self) -> subprocess.CompletedProcess[str]:
        """`terraform destroy`, once; later calls return the first result."""
        if self._destroy_result is None:
            started = time.perf_counter()
            self._destroy_result = self.run("destroy", "-auto-approve", "-input=false", "-no-color", PARALLELISM)
            self.destroy_seconds = time.perf_counter() - started
        return self._destroy_result
