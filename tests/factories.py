"""factory_boy factories bound to the app's session."""

from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from app.models import (
    Building,
    CouncilMembership,
    Meter,
    Organisation,
    Ownership,
    Premises,
    Reading,
    StaffMembership,
    User,
)
from app.services import bankdetails, passwords

PASSWORD = "correct horse battery"
_hash_cache: dict[str, str] = {}


def valid_inn(n: int, prefix: str = "75") -> str:
    """A 10-digit organisation ИНН whose check digit is right (weights 2 4 10 3 5 9 4 6 8, mod 11 mod 10)."""
    body = f"{prefix}{n:07d}"
    return body + str(bankdetails._check_digit(body, bankdetails.INN10_WEIGHTS))


# The real Сбербанк Чита pair and a settlement account whose control key fits it (docs/bank-details.md)
VALID_BANK = {"bank_name": "ПАО СБЕРБАНК", "bank_bic": "047601637", "bank_account": "40702810674000012345",
              "bank_corr_account": "30101810500000000637"}
# The same account with a wrong control key (9th digit) — for tests of what happens with bad details
INVALID_ACCOUNT = "40702810974000012345"


def password_hash(password: str = PASSWORD) -> str:
    if password not in _hash_cache:
        _hash_cache[password] = passwords.hash_password(password)
    return _hash_cache[password]


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None
        sqlalchemy_session_persistence = "flush"


class OrganisationFactory(Base):
    class Meta:
        model = Organisation

    kind = "uk"
    name = factory.LazyAttribute(lambda o: f"Организация {o.short_name}")
    short_name = factory.Sequence(lambda n: f"Организация {n}")
    inn = factory.Sequence(valid_inn)  # check digit right: receipts print a payment QR for these
    kpp = "753601001"
    address = "672000, г. Чита, ул. Ленина, д. 1"
    phones = "+7 3022 00-00-00"
    bank_name = VALID_BANK["bank_name"]
    bank_bic = VALID_BANK["bank_bic"]
    bank_account = VALID_BANK["bank_account"]
    bank_corr_account = VALID_BANK["bank_corr_account"]

    class Params:
        # OrganisationFactory(invalid_bank=True): the account's control key does not fit the БИК
        invalid_bank = factory.Trait(bank_account=INVALID_ACCOUNT)


class BuildingFactory(Base):
    class Meta:
        model = Building

    organisation = factory.SubFactory(OrganisationFactory)
    city = "Чита"
    street = "ул. Ленина"
    house = factory.Sequence(lambda n: str(n + 1))
    entrances = 1
    floors = 5


class PremisesFactory(Base):
    class Meta:
        model = Premises

    building = factory.SubFactory(BuildingFactory)
    number = factory.Sequence(lambda n: str(n + 1))
    entrance = 1
    floor = 1
    rooms = 2
    total_area = Decimal("48.60")
    living_area = Decimal("29.40")
    account_number = factory.Sequence(lambda n: f"9{n:07d}")
    registered_residents = 2


class UserFactory(Base):
    class Meta:
        model = User

    login = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"Пользователь {n}")
    password_hash = factory.LazyFunction(password_hash)
    full_name_locked = True


class OwnershipFactory(Base):
    class Meta:
        model = Ownership

    user = factory.SubFactory(UserFactory)
    premises = factory.SubFactory(PremisesFactory)


class CouncilFactory(Base):
    class Meta:
        model = CouncilMembership

    user = factory.SubFactory(UserFactory)
    building = factory.SubFactory(BuildingFactory)


class StaffFactory(Base):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "staff"


class MeterFactory(Base):
    class Meta:
        model = Meter

    premises = factory.SubFactory(PremisesFactory)
    building_id = factory.LazyAttribute(lambda o: o.premises.building_id if o.premises else None)
    resource = "cold_water"
    serial_number = factory.Sequence(lambda n: f"SN{n:06d}")
    place = "санузел"
    digits = 5
    initial_value = Decimal("0")


class ReadingFactory(Base):
    class Meta:
        model = Reading

    meter = factory.SubFactory(MeterFactory)
    period = None
    value = Decimal("100")
    source = "owner"


ALL = [OrganisationFactory, BuildingFactory, PremisesFactory, UserFactory, OwnershipFactory, CouncilFactory,
       StaffFactory, MeterFactory, ReadingFactory]


def bind(session) -> None:
    for f in ALL:
        f._meta.sqlalchemy_session = session
