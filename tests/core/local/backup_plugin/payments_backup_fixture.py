"""A third-party-style plugin the emulator cannot deploy (issue #18, case 4): AWS Backup of the
platform's tagged resources. moto implements backup vaults and plans but not backup selections, so
``local up`` with it enabled must fail fast, naming the selection, the action and this plugin.

Installed for a test by a ``*.dist-info`` with an entry point on PYTHONPATH (test_emulator_gap.py),
exactly as pip would install a real distribution."""

from __future__ import annotations

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws


@hookimpl
def payments_declare() -> PluginDeclaration:
    return PluginDeclaration(
        name="backup",
        description="AWS Backup plan and selection for the platform's tagged resources (test fixture)",
        requires=(keys.KMS_KEY,),
        emulated_services=("backup",),
    )


@hookimpl
def payments_resources(ctx) -> None:  # type: ignore[no-untyped-def]
    kms = ctx[keys.KMS_KEY]
    vault = aws.backup_vault.BackupVault(
        ctx.scope, "vault", name=ctx.naming.name("payments-vault"), kms_key_arn=kms.arn, force_destroy=True
    )
    plan = aws.backup_plan.BackupPlan(
        ctx.scope,
        "plan",
        name=ctx.naming.name("payments-backup-plan"),
        rule=[{"ruleName": "daily", "targetVaultName": vault.name, "schedule": "cron(0 5 * * ? *)"}],
    )
    role = ctx.roles.role("backup", description="AWS Backup reads what it backs up", service="backup.amazonaws.com")
    aws.backup_selection.BackupSelection(
        ctx.scope,
        "selection",
        name=ctx.naming.name("payments-selection"),
        plan_id=plan.id,
        iam_role_arn=role.arn,
        selection_tag=[{"type": "STRINGEQUALS", "key": "platform", "value": "payments-platform"}],
    )
