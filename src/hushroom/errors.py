"""Domain errors with stable codes; api/ renders them as problem+json, gateway/ as error frames."""

from __future__ import annotations

from typing import Any


class HushroomError(Exception):
    """Base of every error a client may see. `code` is stable and documented in docs/protocol.md.

    `extra` holds documented, code-specific fields (JSON values) that the problem body and the
    WebSocket error frame both carry, e.g. `current_generation` of `stale_key_generation`.
    """

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field
        self.extra = extra


class ValidationFailed(HushroomError):
    status = 422
    code = "validation_failed"
    title = "The request is not valid"


class InvalidKeyMaterial(ValidationFailed):
    code = "invalid_key_material"
    title = "An uploaded key, certificate or vault is not valid"


class InvalidEnvelope(ValidationFailed):
    code = "invalid_envelope"
    title = "The envelope does not decode"


class EnvelopeMismatch(ValidationFailed):
    code = "envelope_mismatch"
    title = "The envelope's header does not match the send"


class Unauthenticated(HushroomError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class InvalidCredentials(HushroomError):
    status = 401
    code = "invalid_credentials"
    title = "Email or password is incorrect"


class TokenInvalid(HushroomError):
    status = 401
    code = "token_invalid"
    title = "The token is invalid or expired"


class Forbidden(HushroomError):
    status = 403
    code = "forbidden"
    title = "You are not allowed to do this"


class NotAMember(Forbidden):
    code = "not_a_member"
    title = "You are not a member of this conversation"


class DeviceNotCertified(Forbidden):
    code = "device_not_certified"
    title = "This device has no certificate; certify it before sending or creating keys"


class AccountDisabled(Forbidden):
    code = "account_disabled"
    title = (
        "This account has been disabled by the server's administrators; contact them if you "
        "think this is a mistake"
    )


class OriginForbidden(Forbidden):
    """A browser request from a page of another origin to a route that trusts the refresh
    cookie (docs/security.md § Edges)."""

    code = "origin_forbidden"
    title = "Requests from this origin are not allowed"


class NotFound(HushroomError):
    status = 404
    code = "not_found"
    title = "Not found"


class ProviderUnknown(NotFound):
    code = "provider_unknown"
    title = "This sign-in provider is not configured here"


class SignupExpired(Unauthenticated):
    """No provider sign-up waits under this browser's sign-up cookie (expired or used)."""

    code = "signup_expired"
    title = "This sign-up has expired; start again with the provider's button"


class SignInFailed(HushroomError):
    """A sign-in through a provider that ends without a session, a sign-up or a link. The
    callback turns it into a redirect to the web app with `code`; nothing was created."""

    status = 400
    code = "sign_in_failed"
    title = "The sign-in did not complete"


class ProviderCancelled(SignInFailed):
    code = "provider_cancelled"
    title = "The sign-in was cancelled at the provider"


class ProviderError(SignInFailed):
    status = 502
    code = "provider_error"
    title = "The provider refused to complete the sign-in"


class ProviderUnreachable(SignInFailed):
    status = 502
    code = "provider_unreachable"
    title = "The sign-in provider could not be reached"


class SignInStateInvalid(SignInFailed):
    code = "sign_in_state_invalid"
    title = "This sign-in link was already used, has expired, or was started in another browser"


class IdTokenInvalid(SignInFailed):
    code = "id_token_invalid"
    title = "The provider's answer could not be verified"


class EmailNotVerified(SignInFailed):
    status = 403
    code = "email_not_verified"
    title = "The provider has not verified this email address"


class AccountExists(SignInFailed):
    status = 409
    code = "account_exists"
    title = (
        "An account with this email exists; sign in with its password and link the provider "
        "in Settings"
    )


class IdentityLinkedElsewhere(SignInFailed):
    status = 409
    code = "identity_linked_elsewhere"
    title = "This provider account is already linked to another Hushroom account"


class Conflict(HushroomError):
    status = 409
    code = "conflict"
    title = "Conflict"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "This email cannot be registered"


class LastSignInMethod(Conflict):
    code = "last_sign_in_method"
    title = "This is the account's only way to sign in; link another provider first"


class WriteConflict(Conflict):
    """A concurrent write took a unique value first (storage raises it for a unique index)."""

    code = "conflict"
    title = "A concurrent change conflicted with this one; try again"


class KeysNotSetUp(Conflict):
    code = "keys_not_set_up"
    title = "This account has no keys yet; sign in to set them up"


class KeysAlreadySetUp(Conflict):
    code = "keys_already_set_up"
    title = "This account already has keys"


class VaultVersionConflict(Conflict):
    code = "vault_version_conflict"
    title = "The key vault changed meanwhile; reload it and try again"


class StoreConflict(Conflict):
    """The user store changed since the client read it: fetch it, merge, and write again on top
    of `current_version`."""

    code = "store_conflict"
    title = "The store changed meanwhile; fetch it, merge and try again"

    def __init__(self, current_version: int) -> None:
        super().__init__(field="expected_version", extra={"current_version": current_version})


class ClientMessageIdReused(Conflict):
    code = "client_msg_id_reused"
    title = "This client message id was already used for another conversation"


class RoomNameTaken(Conflict):
    code = "room_name_taken"
    title = "A public room with this name exists already"


class KeyGenerationTaken(Conflict):
    code = "key_generation_taken"
    title = "A key set for this generation exists already; fetch it and build on top"


class KeySetOutdated(Conflict):
    code = "key_set_outdated"
    title = "The key set's members or PUK generations are not the conversation's current ones"


class StaleKeyGeneration(Conflict):
    """The envelope's generation is not the conversation's current one, or the keys are stale
    (a member changed or rotated their PUK): create or fetch the next generation and re-seal."""

    code = "stale_key_generation"
    title = "The conversation key generation is not current"

    def __init__(self, current_generation: int, stale: bool) -> None:
        super().__init__(
            field="envelope.generation",
            extra={"current_generation": current_generation, "stale": stale},
        )


class MembershipConflict(Conflict):
    code = "membership_conflict"
    title = "The membership log moved on; rebuild the entry on its new head"


class NotARequest(Conflict):
    code = "not_a_request"
    title = "This conversation is not a request waiting for your answer"


class UserBlocked(Conflict):
    code = "user_blocked"
    title = "You block this user; unblock them first"


class PayloadTooLarge(HushroomError):
    status = 413
    code = "payload_too_large"
    title = "The payload is too large"


class RateLimited(HushroomError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ServiceUnavailable(HushroomError):
    status = 503
    code = "service_unavailable"
    title = "The service is temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: float = 5.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
