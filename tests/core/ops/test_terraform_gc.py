"""Terraform and its provider run with a lazier garbage collector (GOGC=400: ~20 % less CPU a command,
BENCHMARKS.md "Terraform's garbage collector"), unless the caller chose a GOGC of their own."""

from __future__ import annotations

from pathlib import Path

from payments_platform.core.ops.terraform import GO_GC_PERCENT, Terraform


def terraform(tmp_path: Path) -> Terraform:
    return Terraform(binary="terraform", mirror=None, config_dir=tmp_path)


def test_terraform_runs_with_the_platforms_gogc(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GOGC", raising=False)
    assert terraform(tmp_path).env()["GOGC"] == GO_GC_PERCENT == "400"


def test_a_gogc_of_the_callers_own_wins(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GOGC", "off")
    assert terraform(tmp_path).env()["GOGC"] == "off"
