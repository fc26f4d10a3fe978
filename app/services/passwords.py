"""Password hashing (argon2id) and the password policy (OWASP ASVS 6.2).

Parameters stay at the OWASP Password Storage Cheat Sheet minimum for argon2id (m = 19 MiB, t = 2, p = 1;
config ARGON2_*). Every hash and verification takes one of a fixed number of slots per process
(ARGON2_MAX_CONCURRENT, default 1): a burst of logins queues for the slots instead of taking every core
from page traffic (docs/performance.md «Logins»).
"""

import secrets
import threading
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.services.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 128
# Unambiguous characters for issued passwords (no 0/O, 1/l/I).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

_hasher = PasswordHasher()
DEFAULT_MAX_CONCURRENT = 1
_slots = threading.BoundedSemaphore(DEFAULT_MAX_CONCURRENT)
_slot_count = DEFAULT_MAX_CONCURRENT


def configure(*, time_cost: int, memory_cost: int, parallelism: int, max_concurrent: int | None = None) -> None:
    """Argon2 parameters and the per-process cap on concurrent hashing (None: keep the current cap)."""
    global _hasher, _slots, _slot_count
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    if max_concurrent is not None and int(max_concurrent) != _slot_count:
        _slot_count = max(1, int(max_concurrent))
        _slots = threading.BoundedSemaphore(_slot_count)


def max_concurrent() -> int:
    return _slot_count


@contextmanager
def _slot():
    """Hold one hashing slot (argon2-cffi releases the GIL, so threads really hash in parallel)."""
    slots = _slots
    with slots:
        yield


def hash_password(password: str) -> str:
    with _slot():
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _slot():
            return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


_DUMMY_HASH: str | None = None


def burn_time() -> None:
    """Spend the time of one verification, so unknown logins are not faster than wrong passwords."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    verify_password(_DUMMY_HASH, "x")


def generate_temporary_password() -> str:
    """12 random characters in three groups, e.g. 'kq7m-x4tp-9zra' (about 59 bits)."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # 30 000 most common passwords (the list zxcvbn ships) plus Russian-keyboard favourites.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    extra = {
        "йцукен", "йцукенгш", "йцукенгшщз", "пароль", "пароль123", "qwertyui", "ytrewq", "1q2w3e4r",
        "1q2w3e4r5t", "zaq12wsx", "q1w2e3r4", "qazwsxedc", "йфяцычувс", "ячсмить", "12345678",
        "87654321", "11111111", "00000000", "password1", "qwerty123", "asdfghjk", "zxcvbnm1",
    }
    return frozenset(FREQUENCY_LISTS["passwords"]) | extra


def check_new_password(password: str, *, login: str | None = None, field: str = "new_password") -> None:
    """Raise Invalid if the password breaks the policy. No composition rules, per ASVS."""
    if len(password) < MIN_LENGTH:
        raise Invalid(field, f"Пароль должен быть не короче {MIN_LENGTH} символов")
    if len(password) > MAX_LENGTH:
        raise Invalid(field, f"Пароль должен быть не длиннее {MAX_LENGTH} символов")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(password)) <= 2:
        raise Invalid(field, "Этот пароль слишком распространён, его легко подобрать. Придумайте другой")
    if login and lowered == login.lower():
        raise Invalid(field, "Пароль не должен совпадать с логином")
