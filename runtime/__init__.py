"""Lambda runtime of the payments API.

Packaged by the api plugin as the top-level package ``payments_runtime`` (next to a vendored
structlog), so modules here import each other relatively and depend only on the standard
library, botocore and structlog. Handler strings:

* ``payments_runtime.transactions.handler`` -- POST /transactions
* ``payments_runtime.status.handler`` -- GET /status
* ``payments_runtime.audit_archive.handler`` -- the audit queue's consumer (audit plugin)
"""
