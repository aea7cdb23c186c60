"""How the engine prepares a scenario's User class for a schedule (no processes)."""

from __future__ import annotations

import gevent.ssl
from locust import FastHttpUser, task

from surge.locustfiles.worker import prepare_user_class
from surge.schedule import parse_schedule
from tests.helpers.users import Fast, Requests, Surge

SCHEDULE = parse_schedule(
    "name: t\ntarget: https://127.0.0.1:8443\n"
    "load:\n  stages:\n    - {rps: 1, duration: 1s}\nlimits:\n  timeout: 7s\n"
)


def own_factory() -> gevent.ssl.SSLContext:
    return gevent.ssl.create_default_context()


class OwnTls(FastHttpUser):
    ssl_context_factory = staticmethod(own_factory)

    @task
    def t(self) -> None:
        pass


def prepared(cls: type) -> type:
    return prepare_user_class(SCHEDULE, {cls.__name__: cls})


def test_the_prepared_class_aims_at_the_target_with_the_timeout_and_leaves_the_original():
    for cls in (Fast, Surge, Requests):
        made = prepared(cls)
        assert issubclass(made, cls) and made.__name__ == cls.__name__
        assert made.host == "https://127.0.0.1:8443" and made.network_timeout == 7.0
        assert cls.host is None


def on_locust_client(tls: str = "") -> object:
    return parse_schedule(
        "name: t\ntarget: https://127.0.0.1:8443\n"
        f"scenario:\n  client: locust\n{tls}"
        "load:\n  stages:\n    - {rps: 1, duration: 1s}\n"
    )


def test_fasthttpuser_classes_share_one_verifying_tls_context_per_process():
    made = prepare_user_class(on_locust_client(), {"Fast": Fast})
    first, second = made.ssl_context_factory(cafile=None), made.ssl_context_factory()
    assert first is second  # not one per user (each costs ~40 ms of CPU)
    assert first.verify_mode == gevent.ssl.CERT_REQUIRED  # verified unless the schedule says
    insecure = prepare_user_class(on_locust_client("  tls: {verify: false}\n"), {"Fast": Fast})
    context = insecure.ssl_context_factory()
    assert context.verify_mode == gevent.ssl.CERT_NONE and context is not first


def test_a_class_with_its_own_tls_factory_keeps_it_on_locusts_client():
    made = prepared(OwnTls)
    assert made.ssl_context_factory is own_factory and made.surge_client.client == "locust"
