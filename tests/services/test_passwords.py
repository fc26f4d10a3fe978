import pytest

from app.services import passwords
from app.services.errors import Invalid


def test_hash_is_argon2id_and_verifies():
    hashed = passwords.hash_password("длинный пароль из слов")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "длинный пароль из слов")
    assert not passwords.verify_password(hashed, "другой пароль")
    assert not passwords.verify_password("not-a-hash", "x")


def test_production_parameters_meet_owasp_minimum():
    from config import Config

    assert Config.ARGON2_MEMORY_COST >= 19 * 1024
    assert Config.ARGON2_TIME_COST >= 2
    assert Config.ARGON2_PARALLELISM >= 1


@pytest.mark.parametrize("pw", ["короткий", "correct horse battery staple", "абв" * 42 + "гд", "Пароль с пробелами 1"])
def test_policy_accepts_any_composition(pw):
    passwords.check_new_password(pw)


@pytest.mark.parametrize(
    ("pw", "fragment"),
    [
        ("1234567", "не короче 8"),
        ("x" * 129, "не длиннее 128"),
        ("password", "распространён"),
        ("Qwerty123", "распространён"),
        ("12345678", "распространён"),
        ("йцукенгш", "распространён"),
        ("aaaaaaaaaaaa", "распространён"),
    ],
)
def test_policy_rejects(pw, fragment):
    with pytest.raises(Invalid) as info:
        passwords.check_new_password(pw)
    assert fragment in info.value.message
    assert info.value.field == "new_password"


def test_policy_rejects_login_as_password():
    with pytest.raises(Invalid, match="логином"):
        passwords.check_new_password("ivanova2026", login="Ivanova2026")


def test_temporary_passwords_are_random_and_pass_policy():
    issued = {passwords.generate_temporary_password() for _ in range(200)}
    assert len(issued) == 200
    for pw in list(issued)[:20]:
        assert len(pw) == 14 and pw.count("-") == 2
        assert not set(pw) & set("0O1lI")
        passwords.check_new_password(pw)
