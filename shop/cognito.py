"""Sign-in shaped like Cognito's user-pool API (`InitiateAuth`, `USER_PASSWORD_AUTH`).

Request and answer follow the real wire format (AWS JSON 1.1: the operation in
the ``X-Amz-Target`` header, errors as ``{"__type", "message"}`` with status
400), so the scenario's sign-in code points at a real pool by changing one URL.
Like a pool with "prevent user existence errors" on (the default for new
pools), an unknown user and a wrong password both answer NotAuthorizedException.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from surge.shop import tokens
from surge.shop.credentials import password_for, usernames

INITIATE_AUTH_TARGET = "AWSCognitoIdentityProviderService.InitiateAuth"
CONTENT_TYPE = "application/x-amz-json-1.1"
ISSUER_PATH = "/surge-shop-pool"


@dataclass(frozen=True)
class CognitoAnswer:
    status: int
    body: dict[str, Any]
    error_type: str | None = None


def _error(error_type: str, message: str) -> CognitoAnswer:
    return CognitoAnswer(400, {"__type": error_type, "message": message}, error_type)


class UserPool:
    """The seeded users and the token issuer."""

    def __init__(
        self, *, users: int, seed: str, client_id: str, token_ttl_s: float, signing_key: bytes
    ) -> None:
        self.passwords = {name: password_for(name, seed) for name in usernames(users)}
        self.client_id = client_id
        self.token_ttl_s = token_ttl_s
        self.signing_key = signing_key
        self.issuer = "surge-shop" + ISSUER_PATH

    def initiate_auth(self, target: str | None, body: bytes, now: float) -> CognitoAnswer:
        if target != INITIATE_AUTH_TARGET:
            return _error("UnknownOperationException", f"unsupported operation {target!r}")
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return _error("SerializationException", "request body is not valid JSON")
        if not isinstance(request, dict):
            return _error("SerializationException", "request body must be a JSON object")
        if request.get("AuthFlow") != "USER_PASSWORD_AUTH":
            return _error("InvalidParameterException", "only USER_PASSWORD_AUTH is supported")
        if request.get("ClientId") != self.client_id:
            return _error(
                "ResourceNotFoundException",
                f"User pool client {request.get('ClientId')} does not exist.",
            )
        params = request.get("AuthParameters")
        if not isinstance(params, dict) or not {"USERNAME", "PASSWORD"} <= params.keys():
            return _error("InvalidParameterException", "Missing required parameter USERNAME")
        username, password = params["USERNAME"], params["PASSWORD"]
        expected = self.passwords.get(username) if isinstance(username, str) else None
        if expected is None or not secrets.compare_digest(str(password), expected):
            return _error("NotAuthorizedException", "Incorrect username or password.")
        return CognitoAnswer(200, {"AuthenticationResult": self.issue(username, now)})

    def issue(self, username: str, now: float) -> dict[str, Any]:
        """Fresh tokens for a user; also used by tests to sign in without HTTP."""
        exp = int(now + self.token_ttl_s)
        sub = str(uuid.UUID(bytes=hashlib.sha256(username.encode()).digest()[:16]))
        common = {"sub": sub, "iss": self.issuer, "iat": int(now), "exp": exp}
        id_claims = {
            **common,
            "aud": self.client_id,
            "token_use": "id",
            "cognito:username": username,
            "auth_time": int(now),
        }
        access_claims = {
            **common,
            "client_id": self.client_id,
            "token_use": "access",
            "username": username,
            "scope": "aws.cognito.signin.user.admin",
        }
        return {
            "IdToken": tokens.sign(id_claims, self.signing_key),
            "AccessToken": tokens.sign(access_claims, self.signing_key),
            "RefreshToken": secrets.token_urlsafe(32),
            "ExpiresIn": int(self.token_ttl_s),
            "TokenType": "Bearer",
        }
