"""Request dependencies: the container, the authenticated principal, and the Origin check of
the routes that trust the refresh cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hushroom.access import require_origin
from hushroom.container import Container
from hushroom.errors import Unauthenticated
from hushroom.principal import Principal

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an access token as 'Authorization: Bearer <token>'")
    container = get_container(request)
    principal = container.tokens.verify(credentials.credentials)
    # An ended session's token is refused at once, not when it expires (services/revocations.py).
    await container.revocations.check(principal)
    # A validly signed token of a user who no longer exists (deleted, or a database restored
    # from an older backup) is refused too.
    await container.accounts.require_exists(principal.user_id)
    request.state.principal = principal
    return principal


async def get_optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The principal when the request carries an access token (it must then be valid)."""
    return None if credentials is None else await get_principal(request, credentials)


def same_origin(request: Request) -> None:
    """Routes that read or set the refresh cookie: a browser page of another origin may not
    call them (403 `origin_forbidden`). A request without Origin is not from a browser page
    (browsers send it on every POST) and passes; docs/security.md § Edges."""
    require_origin(request.scope, get_container(request).settings.allowed_origins)


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]
SameOrigin = Depends(same_origin)
