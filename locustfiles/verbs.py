"""The HTTP verbs of a Locust-style client, each one call of the client's ``request``."""

from __future__ import annotations

from typing import Any


class HttpVerbs:
    """``get``/``post``/... for any class with ``request(method, url, **kwargs)``, with the
    signatures of Locust's clients (``data`` positional after the URL for body verbs)."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", url, data=data, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Any:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", url, **kwargs)
