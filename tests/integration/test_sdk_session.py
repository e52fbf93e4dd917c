"""The SDK's account flows against a real server: password-derived login, silent token refresh,
typed errors, logout."""

from __future__ import annotations

import pytest

from hushroom.client import ApiError, HushroomClient
from tests.integration.helpers import PASSWORD, unique_email
from tests.support.server import ServerProcess


async def test_login_derives_the_secret_and_refreshes_silently(server: ServerProcess) -> None:
    email = unique_email("grace")
    async with HushroomClient(server.base_url) as grace:
        registration = await grace.register("Grace", email, PASSWORD)
        user_id = registration.user_id

        # A wrong password derives a different auth secret: a typed problem, nothing more.
        with pytest.raises(ApiError) as wrong:
            await grace.login(email, PASSWORD + "!")
        assert (wrong.value.status, wrong.value.code) == (401, "invalid_credentials")

        # prelogin → Argon2id with the stored salt and parameters → login.
        login = await grace.login(email, PASSWORD, device_name="laptop")
        assert login.user_id == user_id
        assert login.device_id == registration.device_id  # the registered device, reused
        assert (login.keys, login.device_certified) == ("ready", True)
        me = await grace.me()
        assert (me["user_id"], me["email"]) == (str(user_id), email)

        # An access token the server no longer accepts is refreshed once, silently.
        grace.http.access_token = "expired.or.garbage"
        old_refresh = grace.http.refresh_token
        assert (await grace.get_user(user_id)).display_name == "Grace"
        assert grace.http.refresh_token not in (None, old_refresh)  # rotated
        rt = await grace.connect()  # tickets come over the refreshed session too
        assert rt.connected

        # Problems are typed: a code, and the field when one is to blame.
        with pytest.raises(ApiError) as taken:
            await grace.register("Grace again", email, PASSWORD)
        assert (taken.value.status, taken.value.code) == (409, "email_taken")
        with pytest.raises(ApiError) as invalid:
            await grace.register("", unique_email("nameless"), PASSWORD)
        assert (invalid.value.status, invalid.value.field) == (422, "display_name")

        # Logging out ends the session: the socket is closed for good, the tokens are gone.
        await grace.logout()
        with pytest.raises(ApiError) as gone:
            await grace.me()
        assert gone.value.status == 401
