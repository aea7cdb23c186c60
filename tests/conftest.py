"""Suite-wide setup.

Locust must be imported before anything imports urllib3/ssl (boto3 does): it
monkey-patches ssl with gevent, and doing that after ssl is in use recurses
forever. Importing it here, first, keeps boto3 and Locust usable in one pytest
process whatever order the tests run in.
"""

import locust  # noqa: F401
