"""Locust is imported first, at collection: it patches ssl with gevent, which must happen
before anything (boto3 in test_s3_report) uses ssl. Same reason as tests/runs/conftest.py."""

import locust  # noqa: F401
