"""Echo bot: answers every direct message with "echo: <text>", end-to-end encrypted.

The bot is an ordinary account driven by the Python SDK: it logs in with its password (the vault
is unlocked locally, the server never sees the password), keeps one WebSocket open, decrypts each
DM (key sets verified against the sender's pinned identity key) and answers with a sealed
envelope. Messages it cannot decrypt are logged with the reason, never answered.

    export HUSHROOM_URL=http://127.0.0.1:8000
    export HUSHROOM_BOT_EMAIL=echo@example.org HUSHROOM_BOT_PASSWORD='a long bot password'
    uv run python examples/echo_bot.py --register "Echo bot" --pins ~/.hushroom-echo-pins.json

`--register NAME` creates the account when the login fails (the recovery code is printed once);
`--pins PATH` keeps the identity keys it has seen across restarts, so a contact whose key changes
is noticed (the message is reported as ``identity_key_changed``, not answered).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys

from hushroom.client import (
    ApiError,
    DecryptedMessage,
    FileKeyPins,
    HushroomClient,
    KeyPinStore,
)

log = logging.getLogger("echo_bot")


async def log_in(
    client: HushroomClient, email: str, password: str, register_as: str | None = None
) -> None:
    """Log in, or (with `register_as`) register the account first if the login is refused."""
    try:
        await client.login(email, password, device_name="echo bot")
    except ApiError as exc:
        if register_as is None or exc.code != "invalid_credentials":
            raise
        login = await client.register_and_login(register_as, email, password, device_name="bot")
        if login.recovery_code is not None:
            sys.stderr.write(f"recovery code (shown once): {login.recovery_code.formatted()}\n")


async def answer(client: HushroomClient, message: DecryptedMessage) -> str | None:
    """The echo of one message, sent; None when it is not to be answered."""
    if message.sender_id == client.user_id:
        return None
    if await client.e2ee.kind(message.conversation_id) != "dm":
        return None
    if message.text is None:
        log.warning(
            "cannot read a message",
            extra={"conversation_id": str(message.conversation_id), "reason": message.error},
        )
        return None
    reply = f"echo: {message.text}"
    await client.send_text(message.conversation_id, reply)
    return reply


async def run(client: HushroomClient, ready: asyncio.Event | None = None) -> None:
    """Answer DMs until cancelled (the client must be logged in with its password)."""
    await client.connect()
    if ready is not None:
        ready.set()
    while True:
        event = await client.next_decrypted()
        if isinstance(event, DecryptedMessage):
            try:
                await answer(client, event)
            except ApiError as exc:  # e.g. the other user blocked the bot meanwhile
                log.warning("reply refused", extra={"code": exc.code})


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HUSHROOM_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--email", default=os.environ.get("HUSHROOM_BOT_EMAIL"))
    parser.add_argument("--password", default=os.environ.get("HUSHROOM_BOT_PASSWORD"))
    parser.add_argument("--register", metavar="NAME", help="create the account if needed")
    parser.add_argument("--pins", metavar="PATH", help="file of pinned identity keys")
    args = parser.parse_args(argv)
    if not args.email or not args.password:
        parser.error("set --email/--password or HUSHROOM_BOT_EMAIL/HUSHROOM_BOT_PASSWORD")
    pins: KeyPinStore | None = FileKeyPins(args.pins) if args.pins else None
    async with HushroomClient(args.url, key_pins=pins) as client:
        await log_in(client, args.email, args.password, args.register)
        log.warning("echo bot %s is listening", client.user_id)
        await run(client)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
