"""Paging of staff lists: 50 rows a page, fetched with LIMIT size + 1 so "is there a next page" costs nothing.

The page number comes from the query string (`?page=2`); anything that is not a positive number is page 1, and
a number past the end gives an empty page (never an error). Lists that page: the appeals board, the inbox, the
buildings of /manage/ and the staff list of an organisation.
"""

from dataclasses import dataclass

PAGE_SIZE = 50
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Page:
    number: int
    size: int = PAGE_SIZE
    has_next: bool = False

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.has_next else None

    @property
    def single(self) -> bool:
        return self.number == 1 and not self.has_next


def page_number(raw: str | int | None) -> int:
    """A page number from the query string: 1 unless a positive integer (capped, so OFFSET stays sane)."""
    try:
        number = int(raw) if raw is not None else 1
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def paged(query, number: int, size: int = PAGE_SIZE):
    """(query limited to the page + 1 row, a function turning the fetched rows into (rows, Page))."""
    page = Page(number, size)

    def finish(rows: list):
        return rows[:size], Page(number, size, len(rows) > size)

    return query.offset(page.offset).limit(size + 1), finish
