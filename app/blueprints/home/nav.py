"""Role-aware navigation: only sections that exist and that the user may open."""

from dataclasses import dataclass

from app.models import User
from app.models.people import Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    prefixes: tuple[str, ...]  # URL prefixes that mark the item as current ("/x/" alone matches exactly)

    def matches(self, path: str) -> bool:
        return any(path == p if p.endswith("/") else path.startswith(p) for p in self.prefixes)


def navigation(user: User) -> list[NavItem]:
    items = [NavItem("home.index", "Главная", ("/home",))]
    if user.has_role(Role.OWNER):
        items.append(NavItem("apartment.index", "Квартира", ("/apartment",)))
        items.append(NavItem("readings.index", "Показания", ("/readings",)))
        items.append(NavItem("receipts.index", "Квитанции", ("/receipts",)))
    elif user.has_role(Role.STAFF, Role.COUNCIL, Role.RSO):
        items.append(NavItem("readings.building", "Показания", ("/readings",)))
    if user.has_role(Role.STAFF, Role.COUNCIL):
        items.append(NavItem("manage.readings_grid", "Ввод показаний", ("/manage/readings",)))
    if user.has_role(Role.STAFF):
        items.append(NavItem("manage.receipts_index", "Квитанции", ("/manage/receipts",)))
    if user.has_role(Role.STAFF, Role.COUNCIL):
        items.append(NavItem("manage.index", "Управление", ("/manage/", "/manage/buildings", "/manage/premises",
                                                             "/manage/accounts")))
    if user.has_role(Role.UK_ADMIN, Role.OPERATOR):
        items.append(NavItem("console.index", "Консоль", ("/console",)))
        items.append(NavItem("manage.audit", "Журнал", ("/manage/audit",)))
    if user.has_role(Role.OWNER):
        items.append(NavItem("appeals.index", "Обращения", ("/appeals",)))
        items.append(NavItem("questions.index", "Вопросы", ("/questions",)))
    if user.has_role(Role.STAFF):
        items.append(NavItem("manage.appeals_board", "Обращения", ("/manage/appeals",)))
    if user.has_role(Role.STAFF, Role.COUNCIL, Role.RSO):
        items.append(NavItem("manage.inbox", "Вопросы жителей", ("/manage/inbox",)))
    items.append(NavItem("notices.index", "Оповещения", ("/notices",)))
    items.append(NavItem("announcements.index", "Объявления", ("/announcements",)))
    items.append(NavItem("profile.index", "Мой профиль", ("/profile",)))
    return items
