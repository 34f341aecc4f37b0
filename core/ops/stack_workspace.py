"""One environment's stack, synthesized and initialised against its state backend, ready for
terraform commands whose failures read as one line."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from payments_platform.core.environment import EnvironmentConfig
from payments_platform.core.errors import TerraformError
from payments_platform.core.host.synth import SynthResult, synthesize
from payments_platform.core.ops.backend_errors import explain_backend_failure
from payments_platform.core.ops.terraform import Terraform, last_error


@dataclass
class StackWorkspace:
    environment: EnvironmentConfig
    synth: SynthResult
    stack_dir: Path
    terraform: Terraform

    @classmethod
    def prepare(
        cls,
        environment: EnvironmentConfig,
        out: str | Path,
        *,
        binary: str | None = None,
        mirror: str | None = None,
        init: bool = True,
    ) -> StackWorkspace:
        result = synthesize([environment], out)
        workspace = cls(
            environment=environment,
            synth=result,
            stack_dir=result.stacks[environment.stack_name],
            terraform=Terraform.locate(result.outdir, binary=binary, mirror=mirror),
        )
        if init:
            workspace.terraform.init(workspace.stack_dir, backend=True, explain=workspace.explain)
        return workspace

    @property
    def config(self) -> dict:
        return self.synth.configs[self.environment.stack_name]

    @property
    def state_location(self) -> str:
        env = self.environment
        if env.state is None:
            return str((self.stack_dir / env.state_file).resolve())
        return f"s3://{env.state.bucket}/{env.state_key}"

    def explain(self, output: str) -> str | None:
        return explain_backend_failure(output, self.environment)

    def run(
        self, args: Sequence[str], *, ok: Sequence[int] = (0,), timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Run terraform here; any exit status outside ``ok`` raises one line."""
        result = self.terraform.run(list(args), self.stack_dir, timeout=timeout)
        if result.returncode not in ok:
            output = result.stderr or result.stdout
            raise TerraformError(
                self.explain(output)
                or f"terraform {args[0]} failed for {self.environment.stack_name}: {last_error(output)}"
            )
        return result
