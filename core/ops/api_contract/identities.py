"""Two clients as schemathesis peers, so object_level_authorization checks tenant isolation.

schemathesis takes peers only from a Web Fuzzing Commons (WFC) auth document named in its config,
and refuses a config with both that and OpenAPI auth. So with a second client's key the run uses
schemathesis.toml with its last table, ``[auth.openapi.api_key]``, replaced by an ``[auth.wfc]``
table naming a document that holds both keys -- written to a private directory, never the repo.
"""

from __future__ import annotations

import json
from pathlib import Path

from payments_platform.core.errors import PlatformError

OPENAPI_AUTH_TABLE = "[auth.openapi.api_key]"
CLIENT, PEER = "client", "peer"


class IdentitiesError(PlatformError):
    """schemathesis.toml is not shaped as the peer identities need."""


def identities_document(api_key: str, peer_api_key: str) -> str:
    return json.dumps(
        {
            "auth": [
                {"name": name, "fixedHeaders": [{"name": "x-api-key", "value": key}]}
                for name, key in ((CLIENT, api_key), (PEER, peer_api_key))
            ]
        }
    )


def config_with_peers(config_text: str, identities_file: Path) -> str:
    """``config_text`` with its closing ``[auth.openapi.api_key]`` table replaced by the peers."""
    head, marker, tail = config_text.partition(OPENAPI_AUTH_TABLE)
    if not marker or "\n[" in tail:
        raise IdentitiesError(f"schemathesis.toml must end with its {OPENAPI_AUTH_TABLE} table (the peers replace it)")
    return f'{head}[auth.wfc]\npath = {json.dumps(str(identities_file))}\npeers = ["{CLIENT}", "{PEER}"]\n'
