"""Entry point for the cdktf CLI (``cdktf synth`` / ``cdktf deploy``; see cdktf.json).

Synthesizes every environment (``PAYMENTS_ENV=dev,prod`` narrows it) into the directory
the cdktf CLI passes in ``CDKTF_OUTDIR``, through the same checked path as our own CLI.
"""

from __future__ import annotations

import os
import sys

from payments_platform.core.errors import PlatformError
from payments_platform.core.host.config import load_config


def main() -> int:
    try:
        from payments_platform.core.host.synth import synthesize

        config = load_config()
        names = [n for n in os.environ.get("PAYMENTS_ENV", "").split(",") if n] or sorted(config.environments)
        synthesize(config.select(names), os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    except PlatformError as exc:
        print(f"payments-platform: error: {exc.line}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
