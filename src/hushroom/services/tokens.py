"""Short-lived access tokens (JWT, HS256 with a generated secret, `alg` pinned, audience and type
checked). Expiry is checked against the injected clock, not PyJWT's wall clock."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from hushroom.clock import Clock
from hushroom.errors import TokenInvalid
from hushroom.principal import Principal

ALGORITHM = "HS256"
AUDIENCE = "hushroom"
ISSUER = "hushroom"
TOKEN_TYPE = "access"  # noqa: S105 - a JWT "typ" claim, not a secret


class TokenService:
    def __init__(self, secret: str, clock: Clock, ttl_s: int) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._secret = secret
        self._clock = clock
        self.ttl_s = ttl_s

    def __repr__(self) -> str:
        return f"TokenService(ttl_s={self.ttl_s})"

    def issue(self, principal: Principal) -> str:
        now = self._clock.now_ms() // 1000
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": TOKEN_TYPE,
            "sub": str(principal.user_id),
            "did": str(principal.device_id),
            "sid": str(principal.session_id),
            "iat": now,
            "exp": now + self.ttl_s,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            # Only HS256 is accepted: "none", RS*/ES* and key-confusion attempts all fail here.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            if claims.get("typ") != TOKEN_TYPE:
                raise TokenInvalid()
            ids = (claims.get("sub"), claims.get("did"), claims.get("sid"))
            if not all(isinstance(v, str) for v in ids):
                raise TokenInvalid()
            exp = claims["exp"]
            if not isinstance(exp, int) or exp <= self._clock.now_ms() // 1000:
                raise TokenInvalid("the access token has expired")
            return Principal(
                user_id=uuid.UUID(claims["sub"]),
                device_id=uuid.UUID(claims["did"]),
                session_id=uuid.UUID(claims["sid"]),
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TokenInvalid() from exc
