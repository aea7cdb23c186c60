"""The surge view imports Locust, which monkey-patches ssl with gevent: import it before
anything else touches ssl (as tests/runs/conftest.py explains)."""

import locust  # noqa: F401
