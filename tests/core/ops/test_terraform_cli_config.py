"""Terraform's CLI configuration (the offline provider mirror) is found whatever the working
directory: `payments-platform --config environments.toml local up` once named it by a relative
path, which terraform -- running in the stack directory -- could not open, so init went to the
registry and failed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from payments_platform.core.local.run_record import run_dir_for
from payments_platform.core.ops.terraform import Terraform, find_mirror

REPO = Path(__file__).resolve().parents[3]


def test_a_relative_run_directory_gives_terraform_an_absolute_cli_config(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    terraform = Terraform(binary="terraform", mirror=tmp_path / "mirror", config_dir=Path(".payments-local"))
    config_file = Path(terraform.env()["TF_CLI_CONFIG_FILE"])
    assert config_file.is_absolute() and config_file.is_file()
    assert config_file == tmp_path / ".payments-local" / ".terraformrc"


def test_the_run_directory_of_a_relative_config_path_is_absolute(tmp_path: Path, monkeypatch):
    shutil.copy(REPO / "environments.toml", tmp_path / "environments.toml")
    monkeypatch.chdir(tmp_path)
    assert run_dir_for(Path("environments.toml")) == tmp_path / ".payments-local"


@pytest.mark.terraform
def test_init_in_a_stack_directory_uses_the_mirror_named_from_a_relative_directory(tmp_path: Path, monkeypatch):
    if shutil.which("terraform") is None or find_mirror() is None:
        pytest.skip("needs terraform and an offline provider mirror")
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "main.tf.json").write_text(
        json.dumps({"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}}})
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    terraform = Terraform.locate(Path("run"))
    result = terraform.run(["init", "-input=false", "-no-color", "-backend=false"], stack)
    assert result.returncode == 0, result.stderr
    assert "registry.terraform.io" not in result.stderr and os.path.isdir(stack / ".terraform" / "providers")
