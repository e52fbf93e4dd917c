"""Domain errors with stable codes; api/ renders them as problem+json, gateway/ as error frames."""

from __future__ import annotations


class HushroomError(Exception):
    """Base of every error a client may see. `code` is stable and documented in docs/protocol.md."""

    status = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field


class ValidationFailed(HushroomError):
    status = 422
    code = "validation_failed"
    title = "The request is not valid"


class InvalidKeyMaterial(ValidationFailed):
    code = "invalid_key_material"
    title = "An uploaded key, certificate or vault is not valid"


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


class NotFound(HushroomError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(HushroomError):
    status = 409
    code = "conflict"
    title = "Conflict"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "This email cannot be registered"


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


class ClientMessageIdReused(Conflict):
    code = "client_msg_id_reused"
    title = "This client message id was already used for another conversation"


class RoomNameTaken(Conflict):
    code = "room_name_taken"
    title = "A public room with this name exists already"


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
