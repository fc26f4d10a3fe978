class DomainError(Exception):
    """Base of every business-rule error; the message is Russian and shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    """The actor may not do this (route answers 403)."""


class NotFound(DomainError):
    """The object does not exist for this actor (route answers 404)."""


class Invalid(DomainError):
    """Bad input (route shows each message next to its field, status 422).

    `field`/`message` name the first problem; `errors` holds every field's message when several fields
    were checked at once, so the user sees all of them in one go.
    """

    def __init__(self, field: str, message: str, *, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field
        self.errors = errors or {field: message}

    @classmethod
    def from_errors(cls, errors: dict[str, str]) -> "Invalid":
        field, message = next(iter(errors.items()))
        return cls(field, message, errors=errors)


class Locked(DomainError):
    """The object is locked for this actor."""


class Conflict(DomainError):
    """The object changed meanwhile (route answers 409 saying what happened and what to do)."""
