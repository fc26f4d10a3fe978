"""Role-aware navigation: only sections that exist and that the user may open."""

from dataclasses import dataclass

from app.models import User
from app.models.people import Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    prefix: str  # URL prefix that marks the item as current


def navigation(user: User) -> list[NavItem]:
    items = [NavItem("home.index", "Главная", "/home")]
    if user.has_role(Role.OWNER):
        items.append(NavItem("apartment.index", "Квартира", "/apartment"))
    if user.has_role(Role.OWNER):
        items.append(NavItem("readings.index", "Показания", "/readings"))
    elif user.has_role(Role.STAFF, Role.COUNCIL, Role.RSO):
        items.append(NavItem("readings.building", "Показания", "/readings"))
    if user.has_role(Role.STAFF, Role.COUNCIL):
        items.append(NavItem("manage.index", "Управление", "/manage"))
    items.append(NavItem("profile.index", "Мой профиль", "/profile"))
    return items
