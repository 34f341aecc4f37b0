"""The emulator's administrator: the identity Terraform and the local tooling use.

The provider synthesized for an emulator endpoint signs with the access key ``emulator`` /
``emulator`` (core/host/foundation.py). With IAM enforcement on, that key must belong to a user who may
do everything -- so it is seeded here, in the emulator's own account, before the first request and
again after every ``/moto-api/reset`` (which wipes every backend, users included).
"""

from __future__ import annotations

import json
import threading

ACCOUNT_ID = "123456789012"  # moto's default account: where requests signed with an unknown key land
ADMIN_USER_NAME = "emulator-admin"
ADMIN_ACCESS_KEY_ID = "emulator"
ADMIN_SECRET_ACCESS_KEY = "emulator"
ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

_install_lock = threading.Lock()


def seed_administrator() -> None:
    """Create the administrator user and its fixed access key in moto's IAM backend (idempotent)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT_ID]["aws"]
    if ADMIN_ACCESS_KEY_ID in backend.access_keys:
        return
    user = backend.users.get(ADMIN_USER_NAME) or backend.create_user("us-east-1", ADMIN_USER_NAME)
    backend.put_user_policy(ADMIN_USER_NAME, ADMIN_POLICY_NAME, json.dumps(ADMIN_POLICY))
    key = backend.create_access_key(user.name)
    # moto generates random key material; the provider's is fixed. Re-key the one moto made.
    del backend.access_keys[key.access_key_id]
    key.access_key_id, key.secret_access_key = ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    backend.access_keys[key.access_key_id] = key


def keep_administrator_across_resets() -> None:
    """Re-seed the administrator whenever moto's backends are reset (idempotent)."""
    from moto.moto_api._internal.models import MotoAPIBackend

    with _install_lock:
        if getattr(MotoAPIBackend.reset, "_keeps_emulator_admin", False):
            return
        original_reset = MotoAPIBackend.reset

        def reset(self: MotoAPIBackend) -> None:
            original_reset(self)
            seed_administrator()

        reset._keeps_emulator_admin = True  # type: ignore[attr-defined]
        MotoAPIBackend.reset = reset  # type: ignore[method-assign]
