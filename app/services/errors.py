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
    """Bad input for one field (route shows it next to the field, status 422)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Locked(DomainError):
    """The object is locked for this actor."""


class Conflict(DomainError):
    """The object changed meanwhile (route answers 409 saying what happened and what to do)."""
