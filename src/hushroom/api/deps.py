"""Request dependencies: the container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hushroom.container import Container
from hushroom.errors import Unauthenticated
from hushroom.principal import Principal

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an access token as 'Authorization: Bearer <token>'")
    principal = get_container(request).tokens.verify(credentials.credentials)
    request.state.principal = principal
    return principal


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
