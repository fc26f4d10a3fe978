from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """Where an action came from, for audit and consent records (filled by the route)."""

    ip: str | None = None
    user_agent: str | None = None


NO_ORIGIN = Origin()
