"""A user whose 40th task in each process holds the CPU for 1.5 s without yielding.

That freezes the whole event loop (dispatcher, slots, beats), as a starved or
overloaded generator process would be frozen: for the lateness and liveness tests.
"""

import time

from locust import FastHttpUser, task

HOG_AT_CALL = 40
HOG_S = 1.5
_calls = 0


class HogUser(FastHttpUser):
    @task
    def get(self):
        global _calls
        self.client.get("/")
        _calls += 1
        if _calls == HOG_AT_CALL:
            until = time.perf_counter() + HOG_S
            while time.perf_counter() < until:  # busy: no greenlet switch, no timer fires
                pass
