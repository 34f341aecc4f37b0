"""Running the real terraform binary, offline through a provider mirror when one exists.

The mirror is found in this order: an explicit path (``--provider-mirror``), the
``PAYMENTS_TF_PROVIDER_MIRROR`` environment variable, then well-known locations that hold
``registry.terraform.io/hashicorp/aws``. Without a mirror terraform uses the registry as
usual — the mirror is never required.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from payments_platform.core.errors import ConfigError, TerraformError

MIRROR_ENV_VAR = "PAYMENTS_TF_PROVIDER_MIRROR"
TERRAFORM_ENV_VAR = "PAYMENTS_TERRAFORM"
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"

# Turns terraform's error output into one line with the fixing command, or None when it
# does not recognise the failure (core/ops/backend_errors.py explains state-backend failures).
Explain = Callable[[str], "str | None"]


def find_mirror(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    chosen = explicit or os.environ.get(MIRROR_ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if not (path / PROVIDER_ADDRESS).is_dir():
            raise ConfigError(f"provider mirror {path} has no {PROVIDER_ADDRESS} directory")
        return path
    for candidate in MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / PROVIDER_ADDRESS).is_dir():
            return path
    return None


def find_terraform(explicit: str | None = None) -> str:
    chosen = explicit or os.environ.get(TERRAFORM_ENV_VAR) or shutil.which("terraform")
    if not chosen or not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
        raise TerraformError(
            f"terraform binary not found (install Terraform ≥ 1.5, or set {TERRAFORM_ENV_VAR} / --terraform)"
        )
    return chosen


def cli_config(mirror: Path) -> str:
    # The mirror's unpacked layout doubles as a plugin cache, so init links the provider
    # binary instead of copying ~700 MB into every working directory.
    return f"""provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{PROVIDER_ADDRESS}"]
  }}
  direct {{
    exclude = ["{PROVIDER_ADDRESS}"]
  }}
}}
plugin_cache_dir = "{mirror}"
plugin_cache_may_break_dependency_lock_file = true
"""


@dataclass
class Terraform:
    binary: str
    mirror: Path | None
    config_dir: Path

    @classmethod
    def locate(cls, work_dir: Path, *, binary: str | None = None, mirror: str | None = None) -> Terraform:
        return cls(find_terraform(binary), find_mirror(mirror), work_dir)

    @functools.cached_property
    def _cli_config_file(self) -> Path:
        # Absolute: terraform reads it from the stack directory, where a relative path (from a
        # relative --config) would name no file and init would fall back to the registry.
        rc = self.config_dir.resolve() / ".terraformrc"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        rc.write_text(cli_config(self.mirror))
        return rc

    def env(self, *, interactive: bool = False) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
        if not interactive:
            env["TF_INPUT"] = "0"
        if self.mirror is not None:
            env["TF_CLI_CONFIG_FILE"] = str(self._cli_config_file)
        elif env.get("TF_CLI_CONFIG_FILE") and not Path(env["TF_CLI_CONFIG_FILE"]).exists():
            del env["TF_CLI_CONFIG_FILE"]  # a dangling setting only produces a warning
        return env

    def run(self, args: Sequence[str], cwd: Path, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.binary, *args], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise TerraformError(f"terraform {args[0]} timed out after {timeout:.0f} s in {cwd}") from None

    def stream(
        self, args: Sequence[str], cwd: Path, *, interactive: bool = False, explain: Explain | None = None
    ) -> None:
        """Run with terraform's own output on this terminal (apply, destroy). Its error output is
        held back and replaced by one line when ``explain`` recognises the failure."""
        result = subprocess.run(
            [self.binary, *args], cwd=cwd, env=self.env(interactive=interactive), stderr=subprocess.PIPE, text=True
        )
        if result.returncode != 0:
            known = explain(result.stderr) if explain else None
            if known:
                raise TerraformError(known)
            sys.stderr.write(result.stderr)
            raise TerraformError(
                f"terraform {args[0]} failed in {cwd} (exit {result.returncode}); see its output above"
            )

    def init(
        self, stack_dir: Path, *, backend: bool = False, explain: Explain | None = None, extra: Sequence[str] = ()
    ) -> None:
        args = ["init", "-input=false", "-no-color", *extra]
        if not backend:
            args.append("-backend=false")
        result = self.run(args, stack_dir)
        if result.returncode != 0:
            output = result.stderr or result.stdout
            known = explain(output) if explain else None
            raise TerraformError(known or f"terraform init failed in {stack_dir}: {last_error(output)}")

    def validate(self, stack_dir: Path) -> dict:
        result = self.run(["validate", "-json", "-no-color"], stack_dir)
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise TerraformError(f"terraform validate failed in {stack_dir}: {last_error(result.stderr)}") from None
        if not report.get("valid"):
            problems = [
                f"{d.get('severity')}: {d.get('summary')} ({d.get('address') or (d.get('range') or {}).get('filename', '')})"
                for d in report.get("diagnostics", [])
            ]
            raise TerraformError(f"terraform validate rejected {stack_dir.name}: " + "; ".join(problems))
        return report


def last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not set(line.strip()) <= set("│╷╵ ")]
    errors = [line.lstrip("│ ").strip() for line in lines if "Error" in line]
    return (errors or lines or ["(no output)"])[-1]
