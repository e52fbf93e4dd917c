"""Route dependencies that apply the abuse limits (services/rate_limits.py) before the route runs:
`dependencies=[Limit("register")]` counts the rule `register.address`; `LimitUser("send")`
counts `send.user` and `send.address` for an authenticated caller. Logins are limited inside
SessionService.login (they also key on the account), from the address given by `address`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from hushroom.api.deps import PrincipalDep, get_container
from hushroom.principal import Principal
from hushroom.services.rate_limits import DEFAULT_RULES, client_address


async def address(request: Request) -> str:
    return client_address(request.scope)


# The client's address as the limits count it (the peer, or a trusted proxy's hop).
AddressDep = Annotated[str, Depends(address)]


def Limit(action: str) -> Any:
    rule = f"{action}.address"
    _known(rule)

    async def limited(request: Request) -> None:
        await get_container(request).limits.hit(rule, client_address(request.scope))

    return Depends(limited)


def LimitUser(action: str) -> Any:
    user_rule, address_rule = f"{action}.user", f"{action}.address"
    _known(user_rule, address_rule)

    async def limited(request: Request, principal: PrincipalDep) -> Principal:
        limits = get_container(request).limits
        await limits.hit(user_rule, str(principal.user_id))
        await limits.hit(address_rule, client_address(request.scope))
        return principal

    return Depends(limited)


def _known(*rules: str) -> None:
    for rule in rules:
        if rule not in DEFAULT_RULES:
            raise ValueError(f"no rate limit rule {rule!r}")
