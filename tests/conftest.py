"""Suite-wide settings. Plugin fixtures come from the payments_platform pytest plugin."""

import os

# Tests never talk to real AWS; credentials are fake and regions fixed.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("ENVIRONMENT_SUFFIX", None)
