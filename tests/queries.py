"""Counting SQL statements a block of code sends (budget and growth tests)."""

from sqlalchemy import event

from app.extensions import db


class QueryCounter:
    """`with QueryCounter() as q: ...` then `q.count`: statements sent to the engine (the app's by default)."""

    def __init__(self, engine=None):
        self.engine, self.count = engine, 0

    def __enter__(self):
        self.engine = self.engine or db.engine
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, *args):
        self.count += 1
