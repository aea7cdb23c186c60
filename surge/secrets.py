"""`scenario.secrets` on an instance: values from SSM Parameter Store, nowhere else.

A schedule names a secret by its parameter path (``ssm:/shop/api-token``); the
instance's role may read only the paths the Terraform module was given
(``secret_parameter_paths``). The value goes into the Locust processes'
environment and is never logged, uploaded or written to the manifest. The SSM
client is built here, like S3's in `surge.s3.make_client`: tests reach the
emulator through the standard ``AWS_ENDPOINT_URL`` setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from surge.errors import InfrastructureError
from surge.s3 import CONNECT_TIMEOUT_S, DEFAULT_REGION, READ_TIMEOUT_S

SSM_PREFIX = "ssm:"
ATTEMPTS = 3  # botocore's standard retries: a fresh instance profile may lag a moment


def make_ssm_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """An SSM client (the only place surge calls ``boto3.client("ssm")``)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
    )
    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(
        "ssm", endpoint_url=endpoint_url, region_name=region_name or DEFAULT_REGION, config=config
    )


def ssm_resolver(client: Any) -> Callable[[str, str], str | None]:
    """``resolve(name, "ssm:/path")`` -> the decrypted value, or None when it does not exist.

    Any other failure (no permission, SSM unreachable) is an `InfrastructureError`
    naming the secret and its path, never its value.
    """

    def resolve(name: str, reference: str) -> str | None:
        path = reference.removeprefix(SSM_PREFIX)
        try:
            reply = client.get_parameter(Name=path, WithDecryption=True)
        except client.exceptions.ParameterNotFound:
            return None
        except Exception as exc:  # botocore's many error types: one clear sentence
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise InfrastructureError(
                f"cannot read secret {name} from SSM: {code}", reference
            ) from None
        return str(reply["Parameter"]["Value"])

    return resolve
