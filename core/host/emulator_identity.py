"""The access key a stack synthesized for an emulator endpoint signs with.

The host writes it into the AWS provider and the S3 state backend of an environment with
``aws_endpoint``; the emulator (core/local/emulator/admin.py) seeds an administrator owning it,
so the key is defined here, below both.
"""

from __future__ import annotations

EMULATOR_ACCESS_KEY_ID = "emulator"
EMULATOR_SECRET_ACCESS_KEY = "emulator"
