"""Installing the emulator's moto patches twice changes nothing the second time (run in a fresh
interpreter: the test process's moto stays unpatched)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
from moto.awslambda.models import LambdaFunction
from moto.core.authorization import ActionAuthenticatorMixin
from moto.ec2.models.security_groups import SecurityGroupRule
from moto.iam.access_control import IAMRequestBase
from moto.moto_api._internal.models import MotoAPIBackend
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.sqs.models import Queue
from moto.awslambda.models import LambdaBackend
from moto.secretsmanager.models import SecretsManagerBackend
from payments_platform.core.local.emulator import admin as emulator_admin, moto_authorization, moto_fidelity, moto_performance, moto_rotation

def patched():
    return (
        LambdaFunction.__init__, LambdaFunction.get_configuration, LambdaFunction.update_configuration,
        SecurityGroupRule.__init__, SecurityGroupRule.description,
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action, IAMRequestBase._create_aws_request,
        MotoAPIBackend.reset,
        DynamoDBBackend.transact_write_items, Table.query, Table.all_items,
        Queue.messages, Queue.add_message, Queue.approximate_number_of_messages_delayed, Queue.approximate_number_of_messages_not_visible,
        SecretsManagerBackend.rotate_secret, LambdaBackend.invoke,
    )

original = patched()
for _ in range(2):
    moto_fidelity.install()
    moto_performance.install()
    moto_authorization.install()
    moto_rotation.install(None)
    emulator_admin.keep_administrator_across_resets()
    if _ == 0:
        first = patched()
assert all(a is not b for a, b in zip(original, first)), "a patch was not applied"
assert patched() == first, "a second install wrapped a patch again"
"""


def test_installing_the_patches_twice_wraps_nothing_twice():
    completed = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
