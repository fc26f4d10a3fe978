"""Demo data: one УК and one РСО in Chita, two buildings, owners, council, staff.

Everything is relative to the day it is loaded (`utcnow()`), so the demo tells the same story on any date:
ул. Бабушкина, 108 accepts readings all month (its owners' meeting chose 1st–last day), and the council has
entered some of this month's readings there (among them кв. 13's cold water); an outage is going on now and
another is planned; notices of the last weeks; appeals open, overdue (by the production calendar) and done;
questions in the inbox; a register of owners with some owners still without an account.
"""

import random

from sqlalchemy import select

from app.extensions import db
from app.models import (
    Building,
    CouncilMembership,
    Organisation,
    Ownership,
    Premises,
    StaffMembership,
    User,
)
from app.models.orgs import OrgKind, StaffRole
from app.services import passwords

DEMO_PASSWORD = "demo2026"

SURNAMES = [
    ("Иванов", "Иванова"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Васильев", "Васильева"),
    ("Петров", "Петрова"),
    ("Соколов", "Соколова"),
    ("Михайлов", "Михайлова"),
    ("Новиков", "Новикова"),
    ("Фёдоров", "Фёдорова"),
    ("Морозов", "Морозова"),
    ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"),
    ("Лебедев", "Лебедева"),
    ("Семёнов", "Семёнова"),
    ("Егоров", "Егорова"),
    ("Павлов", "Павлова"),
    ("Козлов", "Козлова"),
    ("Степанов", "Степанова"),
    ("Николаев", "Николаева"),
    ("Цыренов", "Цыренова"),
    ("Дашиев", "Дашиева"),
    ("Бальжинимаев", "Бальжинимаева"),
    ("Намсараев", "Намсараева"),
]
MALE = [
    ("Александр", "Александрович"),
    ("Сергей", "Сергеевич"),
    ("Андрей", "Андреевич"),
    ("Дмитрий", "Дмитриевич"),
    ("Алексей", "Алексеевич"),
    ("Баир", "Баирович"),
    ("Николай", "Николаевич"),
]
FEMALE = [
    ("Елена", "Александровна"),
    ("Ольга", "Сергеевна"),
    ("Татьяна", "Андреевна"),
    ("Наталья", "Дмитриевна"),
    ("Ирина", "Николаевна"),
    ("Сэсэг", "Баировна"),
    ("Анна", "Алексеевна"),
]


def _name(rng: random.Random) -> str:
    male, female = rng.choice(SURNAMES)
    if rng.random() < 0.5:
        first, patronymic = rng.choice(MALE)
        return f"{male} {first} {patronymic}"
    first, patronymic = rng.choice(FEMALE)
    return f"{female} {first} {patronymic}"


def _building_premises(
    building: Building,
    *,
    actor: User,
    entrances: int,
    floors: int,
    per_floor: int,
    account_prefix: str,
    cadastral_prefix: str,
    rng: random.Random,
) -> list[Premises]:
    """The building's premises, brought in the way a УК does it: a file through the house import (preview,
    then apply) — the owners and meters are added below, where the demo needs their history."""
    from app.services.house_import import house_import_apply, house_import_preview

    layout = [
        ("1", "34,2", "17,8"),
        ("2", "48,6", "29,4"),
        ("3", "63,1", "41,5"),
    ]
    lines = ["Номер помещения;Вид помещения;Подъезд;Этаж;Количество комнат;Общая площадь, м²;Жилая площадь, м²;"
             "Кадастровый номер;Лицевой счёт;Зарегистрировано"]
    number = 0
    for entrance in range(1, entrances + 1):
        for floor in range(1, floors + 1):
            for slot in range(per_floor):
                number += 1
                rooms, total, living = layout[slot % len(layout)]
                residents = rng.choice([1, 1, 2, 2, 3, 4])
                lines.append(f"{number};квартира;{entrance};{floor};{rooms};{total};{living};"
                             f"{cadastral_prefix}:{number + 100};{account_prefix}{number:04d};{residents}")
    content = ("\n".join(lines) + "\n").encode("utf-8")
    preview = house_import_preview(actor=actor, building=building, filename="pomeshcheniya.csv", content=content)
    house_import_apply(actor=actor, building=building, imp=preview)
    premises = db.session.scalars(select(Premises).where(Premises.building_id == building.id)).all()
    return sorted(premises, key=lambda p: int(p.number))


def seed() -> str:
    from datetime import timedelta

    from app.models.base import utcnow

    rng = random.Random(2026)
    demo_hash = passwords.hash_password(DEMO_PASSWORD)

    def user(login: str, full_name: str, **extra) -> User:
        # Accounts "issued" a year ago, so the demo notices of the last weeks count as unread.
        u = User(login=login, password_hash=demo_hash, full_name=full_name, full_name_locked=True,
                 created_at=utcnow() - timedelta(days=365), **extra)
        db.session.add(u)
        return u

    operator = Organisation(
        kind=OrgKind.OPERATOR,
        name="ГКУ «Центр цифровых сервисов ЖКХ Забайкальского края»",
        short_name="Оператор портала",
        inn="7536000012",
        address="672000, г. Чита, ул. Амурская, д. 68",
        phones="+7 3022 21-00-00",
        email="support@dom-chita.example",
    )
    db.session.add(operator)
    # The operator brings the УК and the supplier in through the console's services, as in production: their
    # bank details and identifiers pass the same checks (app/services/bankdetails.py), every step is audited.
    admin = user("admin", "Оператор портала", is_operator=True)
    db.session.commit()
    from app.services.buildings import BuildingInput, building_create
    from app.services.organisations import OrganisationInput, organisation_create

    uk = organisation_create(actor=admin, data=OrganisationInput(
        org_type="uk",
        name="Общество с ограниченной ответственностью «Управляющая компания «Северный»",
        short_name="ООО «УК «Северный»",
        inn="7536123455",  # check digits valid (ФНС), like every identifier here
        kpp="753601001",
        ogrn="1157536004328",
        address="672039, г. Чита, ул. Бабушкина, д. 120, офис 3",
        phones="+7 3022 35-12-40",
        ads_phone="+7 3022 35-12-00",
        office_hours="пн–чт 8:00–17:00, пт 8:00–16:00, обед 12:00–13:00",
        email="info@uk-severny.example",
        site="https://uk-severny.example",
        bank_name="ЧИТИНСКОЕ ОТДЕЛЕНИЕ N8600 ПАО СБЕРБАНК",
        bank_bic="047601637",
        bank_account="40702810674000012345",  # control key valid for the БИК (ЦБ)
        bank_corr_account="30101810500000000637",
        reading_start_day=20,
        reading_end_day=25,
    ))
    rso = organisation_create(actor=admin, data=OrganisationInput(
        org_type="rso",
        name="Акционерное общество «Водоканал-Чита»",
        short_name="АО «Водоканал-Чита»",
        inn="7536095695",
        kpp="753601001",
        ogrn="1087536008801",
        address="672000, г. Чита, ул. Костюшко-Григоровича, д. 1",
        phones="+7 3022 23-35-60",
        email="abon@vodokanal-chita.example",
        resources=("cold_water", "hot_water"),
    ))
    water = {"cold_water": rso.id, "hot_water": rso.id}
    # The owners' meeting of ул. Бабушкина, 108 chose to hand in readings all month (1st to the last day), so
    # the demo has an open reading window on any date; ул. Амурская, 41 keeps the УК's 20th-25th.
    b1 = building_create(actor=admin, organisation=uk, data=BuildingInput(
        street="ул. Бабушкина", house="108", postcode="672039", year_built=1987, floors=10, entrances=4,
        reading_start_day=1, reading_end_day=31, suppliers=water))
    b2 = building_create(actor=admin, organisation=uk, data=BuildingInput(
        street="ул. Амурская", house="41", postcode="672000", year_built=1962, floors=4, entrances=3,
        suppliers=water))
    p1 = _building_premises(b1, actor=admin, entrances=4, floors=10, per_floor=3, account_prefix="10108",
                            cadastral_prefix="75:32:030512", rng=rng)
    p2 = _building_premises(b2, actor=admin, entrances=3, floors=4, per_floor=3, account_prefix="20041",
                            cadastral_prefix="75:32:040301", rng=rng)
    by_number = {p.number: p for p in p1}

    owner = user(
        "owner", "Бальжинимаева Сэсэг Баировна", phone="+79141234567", email="owner@example.ru", notify_new_notice=True
    )
    owner.ownerships.append(Ownership(premises=by_number["12"]))
    owner.ownerships.append(Ownership(premises=p2[4], share_num=1, share_den=2))  # кв. 5 on Amurskaya, half
    by_number["12"].actual_residents = 3
    owner2 = user("owner2", "Петров Андрей Сергеевич", phone="+79247654321")
    owner2.ownerships.append(Ownership(premises=by_number["13"]))
    council = user("council", "Козлова Ирина Николаевна", phone="+79145550011", email="council@example.ru")
    council.ownerships.append(Ownership(premises=by_number["45"]))
    council.council_memberships.append(CouncilMembership(building=b1, is_chair=True))
    staff = user("staff", "Морозова Ольга Сергеевна", email="staff@uk-severny.example")
    staff.staff_memberships.append(StaffMembership(organisation=uk, role=StaffRole.STAFF))
    ukadmin = user("ukadmin", "Семёнов Дмитрий Алексеевич", email="admin@uk-severny.example")
    ukadmin.staff_memberships.append(StaffMembership(organisation=uk, role=StaffRole.ADMIN))
    rso_user = user("rso", "Цыренов Баир Николаевич", email="dispatcher@vodokanal-chita.example")
    rso_user.staff_memberships.append(StaffMembership(organisation=rso, role=StaffRole.STAFF))

    # A second council member and the co-owner of кв. 5 on Amurskaya.
    member = user("council2", "Егоров Николай Андреевич")
    member.ownerships.append(Ownership(premises=by_number["77"]))
    member.council_memberships.append(CouncilMembership(building=b1))
    co_owner = user("ls200410005", "Бальжинимаев Баир Николаевич", must_change_password=True)
    co_owner.ownerships.append(Ownership(premises=p2[4], share_num=1, share_den=2))

    db.session.flush()
    _seed_meters(p1 + p2, rng, council=council, owner2_premises=by_number["13"])

    # Other owners: most premises have an account (some not yet activated); the register of owners names
    # every owner, and some have no account yet: whole flats and a few co-owners (the letters page's work).
    taken = {"12", "13", "45", "77"}
    extra, register_only = 0, []
    issued_at = utcnow()
    for premises in p1 + p2:
        if (premises.building is b1 and premises.number in taken) or premises is p2[4]:
            continue
        if rng.random() < 0.08:
            register_only.append((premises, _name(rng), 1, 1))
            continue
        pending = rng.random() < 0.2
        u = user(f"ls{premises.account_number}", _name(rng), must_change_password=pending)
        if pending:  # letters handed out lately, and some whose temporary password ran out unused
            u.temp_password_expires_at = issued_at + timedelta(days=rng.choice([-30, -9, 4, 8, 12]))
        if rng.random() < 0.06:  # a co-owner of half the flat who has no account yet
            u.ownerships.append(Ownership(premises=premises, share_num=1, share_den=2))
            co_name = _name(rng)
            while co_name == u.full_name:
                co_name = _name(rng)
            register_only.append((premises, co_name, 1, 2))
        else:
            u.ownerships.append(Ownership(premises=premises))
        extra += 1
    db.session.flush()
    _seed_register(p1 + p2, register_only)
    db.session.commit()
    _seed_gis_ids(p1 + p2, random.Random(75))  # its own generator: the rest of the demo stays as it was
    _seed_billing(uk, [b1, b2], staff, rng, reliable={o.premises_id for o in owner.ownerships + owner2.ownerships})
    _seed_messages(b1, b2, staff, council, rso_user, owner, owner2)
    _seed_appeals(by_number, owner, owner2, staff)
    _seed_questions(b1, staff, owner, owner2)
    return (
        f"Demo loaded: 2 buildings, {len(p1) + len(p2)} premises, {extra + 9} accounts. "
        f"Log in as owner, owner2, council, staff, ukadmin, rso or admin with password {DEMO_PASSWORD}."
    )


def _seed_register(premises_list, register_only) -> None:
    """The УК's register of owners (as the title documents say): a row per owner of every premises, linked to
    the owner's account where there is one."""
    from app.models import OwnerRecord

    rows = [
        OwnerRecord(premises_id=premises.id, full_name=o.user.full_name, share_num=o.share_num,
                    share_den=o.share_den, phone=o.user.phone, email=o.user.email, user_id=o.user.id, source="demo")
        for premises in premises_list
        for o in premises.ownerships
    ]
    rows += [OwnerRecord(premises_id=premises.id, full_name=name, share_num=num, share_den=den, source="demo")
             for premises, name, num, den in register_only]
    db.session.add_all(rows)


def _seed_meters(premises_list, rng, *, council, owner2_premises) -> None:
    """Meters for every premises and 12 months of believable readings (plus part of the current month).

    Past readings were handed in within their month's window; this month's, for buildings whose window has
    opened, in the last days (never before the window opened). The council entered some of this month's
    readings of its building, among them кв. 13's cold water (its owner sees the lock); кв. 13's other meters
    have nothing for this month yet (the hot water meter is past its verification)."""
    from datetime import date, timedelta

    from app.models import Meter, Reading
    from app.models.base import utcnow
    from app.models.metering import ReadingSource, Resource
    from app.services.periods import add_months, current_month, local_today, window_for

    now = utcnow()
    this_month = current_month(now)
    today = local_today(now)
    monthly = {Resource.COLD_WATER: 4.5, Resource.HOT_WATER: 3.0, Resource.ELECTRICITY: 180.0}
    council_buildings = {m.building_id for m in council.council_memberships}
    windows = {}

    def window(building, period):
        if (building.id, period) not in windows:
            windows[building.id, period] = window_for(building, period)
        return windows[building.id, period]

    def entered_at(building, period):
        w = window(building, period)
        start, end = (max(w.opens_at, now - timedelta(days=5)), now) if period == this_month else (
            w.opens_at, w.closes_at)
        return start + (end - start) * rng.uniform(0.05, 0.95)

    readings = []
    for index, premises in enumerate(premises_list):
        building = premises.building
        registers = [
            (Resource.COLD_WATER, None, "санузел", 5),
            (Resource.HOT_WATER, None, "санузел", 5),
        ]
        if index % 4 == 0:  # a day/night electricity meter: two registers
            registers += [(Resource.ELECTRICITY, "T1", "щиток", 6), (Resource.ELECTRICITY, "T2", "щиток", 6)]
        else:
            registers += [(Resource.ELECTRICITY, None, "щиток", 6)]
        people = max(premises.registered_residents, 1)
        submitted_now = rng.random() < 0.55  # about half the premises have handed in this month already
        by_council = building.id in council_buildings and rng.random() < 0.12
        installed = date(today.year - 5 + index % 3, 1 + index % 12, 10)
        for resource, zone, place, digits in registers:
            prefix = {Resource.COLD_WATER: "ХВ", Resource.HOT_WATER: "ГВ"}.get(resource, "Э")
            serial = f"{prefix}{40000 + index * 7:06d}"  # the registers of one electricity meter share it
            verification = installed.replace(year=installed.year + (16 if resource == Resource.ELECTRICITY else 6))
            if premises is owner2_premises and resource == Resource.HOT_WATER:
                verification = today - timedelta(days=20)  # expired: shows the owner what to do
            elif premises.number == "12" and building.house == "108" and resource == Resource.COLD_WATER:
                verification = today + timedelta(days=45)  # due soon: reminders and the owner's warning
            meter = Meter(
                premises=premises,
                building_id=building.id,
                resource=resource,
                zone=zone,
                serial_number=serial,
                place=place,
                installed_on=installed,
                next_verification_on=verification,
                digits=digits,
                initial_value=0,
            )
            db.session.add(meter)
            value = round(rng.uniform(50, 400) * (10 if resource == Resource.ELECTRICITY else 1), 3)
            base = monthly[resource] * people * (0.6 if zone == "T2" else 1)
            for back in range(13, -1, -1):  # one month more than billed, so the first bill has a previous
                period = add_months(this_month, -back)
                value = round(value + base * rng.uniform(0.6, 1.4), 3)
                source, entered_by = (ReadingSource.OWNER if rng.random() > 0.15 else ReadingSource.STAFF), None
                if back == 0:
                    if premises is owner2_premises:
                        if resource != Resource.COLD_WATER:
                            continue
                        source, entered_by = ReadingSource.COUNCIL, council.id
                    elif now < window(building, period).opens_at or not (submitted_now or by_council):
                        continue
                    elif by_council:
                        source, entered_by = ReadingSource.COUNCIL, council.id
                readings.append(Reading(meter=meter, period=period, value=value, source=source,
                                        entered_by_id=entered_by, entered_at=entered_at(building, period)))
    db.session.add_all(readings)


def _seed_gis_ids(premises, rng) -> None:
    """ГИС ЖКХ ЕЛС (10 characters: region 75, two letters, six digits) and ИЖКУ (ЕЛС-01) of every premises."""
    letters = "АБВГДЕЖИКЛМНПРСТ"
    used = set()
    for p in premises:
        els = None
        while els is None or els in used:
            els = f"75{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 999999):06d}"
        used.add(els)
        p.els, p.igku = els, f"{els}-01"
    db.session.commit()


def _seed_billing(uk, buildings, staff, rng, reliable=frozenset()) -> None:
    """Services and tariffs of the УК, twelve closed months with charges, statements and payments.

    The catalogue follows ПП 354 (docs/billing.md): heating in Гкал by the норматив per m², водоотведение as
    cold + hot water, КР на СОИ of cold water, hot water and electricity distributed from the house meters
    (ОДПУ) of ул. Бабушкина, 108 within the СОИ норматив, and by the норматив on ул. Амурская, 41, which has no
    house meters. Figures are plausible for Chita, not the regulator's (РСТ Забайкальского края) exact ones.
    One flat (ул. Бабушкина, 108, кв. 20) skipped two months of cold water readings and handed one in last
    month, so the latest receipt shows a п. 61 recalculation.
    """
    from datetime import date, datetime, time, timedelta
    from decimal import Decimal

    from app.models import Payment, Service, Tariff
    from app.models.base import utcnow
    from app.services.billing import period_close
    from app.services.periods import TZ, add_months, current_month, local_today

    # code, name, unit, method, resource, zone, норматив per person, new and old tariff, other settings
    catalogue = [
        ("MAINT", "Содержание жилого помещения", "м²", "area", None, None, None, "32.50", "30.10", {}),
        # ~0.0246 Гкал/м² a month paid evenly over the year; ~3 100 ₽/Гкал (plausible for Chita)
        ("HEAT", "Отопление", "Гкал", "heating", None, None, None, "3104.12", "2958.40",
         {"norm_per_m2": Decimal("0.0246")}),
        ("CW", "Холодное водоснабжение", "м³", "meter", "cold_water", None, "3.9", "48.72", "46.18",
         {"raising_factor": Decimal("1.5")}),
        ("HW", "Горячее водоснабжение", "м³", "meter", "hot_water", None, "2.9", "248.95", "236.40",
         {"raising_factor": Decimal("1.5")}),
        ("SEW", "Водоотведение", "м³", "sewage", None, None, None, "38.40", "36.60", {}),
        ("EL", "Электроэнергия", "кВт·ч", "meter", "electricity", None, "100", "4.26", "4.05",
         {"raising_factor": Decimal("1.5")}),
        ("EL1", "Электроэнергия, день (T1)", "кВт·ч", "meter", "electricity", "T1", "70", "4.90", "4.66", {}),
        ("EL2", "Электроэнергия, ночь (T2)", "кВт·ч", "meter", "electricity", "T2", "30", "2.85", "2.71", {}),
        ("CW_SOI", "Холодная вода на СОИ", "м³", "common", "cold_water", None, None, "48.72", "46.18",
         {"norm_per_m2": Decimal("0.03"), "by_house_meter": True}),
        ("HW_SOI", "Горячая вода на СОИ", "м³", "common", "hot_water", None, None, "248.95", "236.40",
         {"norm_per_m2": Decimal("0.028"), "by_house_meter": True}),
        ("EL_SOI", "Электроэнергия на СОИ", "кВт·ч", "common", "electricity", None, None, "4.26", "4.05",
         {"norm_per_m2": Decimal("1.2"), "by_house_meter": True}),
        ("TKO", "Обращение с ТКО", "чел.", "residents", None, None, None, "176.70", "168.30", {}),
    ]
    this_month = current_month(utcnow())
    # Tariffs change on 1 July, as regulated tariffs in Russia do.
    july = date(this_month.year if this_month.month >= 7 else this_month.year - 1, 7, 1)
    for order, (code, name, unit, method, resource, zone, norm, new, old, extra) in enumerate(catalogue):
        service = Service(
            organisation_id=uk.id,
            code=code,
            name=name,
            unit=unit,
            method=method,
            resource=resource,
            zone=zone,
            norm_per_person=Decimal(norm) if norm else None,
            sort_order=order * 10,
            **extra,
        )
        service.tariffs = [
            Tariff(valid_from=add_months(july, -12), valid_to=july - timedelta(days=1), rate=Decimal(old)),
            Tariff(valid_from=july, rate=Decimal(new)),
        ]
        db.session.add(service)
    buildings[0].common_area = Decimal("1104.60")
    buildings[1].common_area = Decimal("386.20")
    _seed_reading_gap(buildings[0], "20", this_month)
    _seed_house_meters(buildings[0], this_month)
    db.session.commit()
    today = local_today(utcnow())
    debtors = set()
    for back in range(12, 0, -1):
        period = add_months(this_month, -back)
        for building in buildings:
            issued = datetime.combine(add_months(period, 1), time(9), TZ)  # on the 1st, 9:00 in Chita
            report = period_close(actor=staff, building=building, period=period, now=issued)
            for premises_id, amount_due in report.due.items():
                if premises_id in debtors or amount_due <= 0:
                    continue
                if rng.random() < 0.01 and premises_id not in reliable:  # the demo accounts' flats keep paying
                    debtors.add(premises_id)  # stops paying: debt and пени grow
                    continue
                paid_on = add_months(period, 1) + timedelta(days=rng.randint(2, 24))
                if paid_on > today:
                    continue
                share = Decimal(1) if rng.random() > 0.08 else Decimal("0.5")
                db.session.add(
                    Payment(
                        premises_id=premises_id,
                        paid_on=paid_on,
                        amount=(amount_due * share).quantize(Decimal("0.01")),
                        source="bank",
                        reference=f"СБП {rng.randint(10**8, 10**9)}",
                    )
                )
        db.session.commit()


def _seed_reading_gap(building, number, this_month) -> None:
    """A flat that handed in no cold water readings for two months and then one last month: those months are
    billed by the average (ПП 354 п. 59 «б») and recalculated on the latest receipt (п. 61)."""
    from sqlalchemy import delete

    from app.models import Meter, Reading
    from app.models.metering import Resource
    from app.services.periods import add_months

    flat = db.session.scalar(select(Premises).where(Premises.building_id == building.id, Premises.number == number))
    meter_ids = db.session.scalars(select(Meter.id).where(Meter.premises_id == flat.id,
                                                          Meter.resource == Resource.COLD_WATER)).all()
    gap = [add_months(this_month, -3), add_months(this_month, -2)]
    db.session.execute(delete(Reading).where(Reading.meter_id.in_(meter_ids), Reading.period.in_(gap)))


def _seed_house_meters(building, this_month) -> None:
    """Building meters (ОДПУ) of cold water, hot water and electricity with a reading every month: the
    apartments' consumption plus what the common property used (more than the СОИ норматив for cold water and
    electricity, so the cap of ПП 354 п. 44 shows; within it for hot water)."""
    from decimal import Decimal

    from app.models import Meter, Reading
    from app.models.metering import ReadingSource, Resource
    from app.services.periods import add_months

    flats = select(Meter.id).join(Premises, Premises.id == Meter.premises_id).where(
        Premises.building_id == building.id)
    by_period: dict = {}
    for meter_id, resource, period, value in db.session.execute(
            select(Reading.meter_id, Meter.resource, Reading.period, Reading.value)
            .join(Meter, Meter.id == Reading.meter_id).where(Reading.meter_id.in_(flats))):
        by_period.setdefault(resource, {}).setdefault(meter_id, {})[period] = value
    extra = {Resource.COLD_WATER: Decimal("1.045"), Resource.HOT_WATER: Decimal("1.01"),
             Resource.ELECTRICITY: Decimal("1.04")}
    start = add_months(this_month, -13)
    for index, (resource, factor) in enumerate(extra.items()):
        meter = Meter(building_id=building.id, resource=resource, serial_number=f"ОДПУ-{108 + index:04d}",
                      place="ИТП, подвал" if resource != Resource.ELECTRICITY else "ВРУ",
                      digits=8 if resource == Resource.ELECTRICITY else 7, initial_value=0)
        db.session.add(meter)
        value = Decimal("10000") * (10 if resource == Resource.ELECTRICITY else 1)
        readings = [Reading(meter=meter, period=start, value=value, source=ReadingSource.STAFF)]
        for back in range(12, 0, -1):
            period, before = add_months(this_month, -back), add_months(this_month, -back - 1)
            used = sum((v[period] - v[before] for v in by_period.get(resource, {}).values()
                        if period in v and before in v), Decimal(0))
            value = (value + used * factor).quantize(Decimal("0.001"))
            readings.append(Reading(meter=meter, period=period, value=value, source=ReadingSource.STAFF))
        db.session.add_all(readings)


def _seed_messages(b1, b2, staff, council, rso_user, owner, owner2) -> None:
    """A few notices and announcements, published directly (no emails are queued for demo data)."""
    from datetime import datetime, time, timedelta

    from app.formatting import date_ru
    from app.models import Announcement, Notice, NoticeTarget
    from app.models.base import utcnow
    from app.services.periods import TZ, local_today

    now = utcnow()
    day, hour = timedelta(days=1), timedelta(hours=1)
    meeting_day = local_today(now) + 12 * day
    meeting_at = datetime.combine(meeting_day, time(18, 30), TZ)
    notices = [
        Notice(
            author_id=staff.id,
            author_role="staff",
            organisation_id=b1.organisation_id,
            category="planned",
            resource="hot_water",
            title="Нет горячей воды: плановый ремонт теплотрассы",
            body="Уважаемые жители! В связи с ремонтом теплотрассы прекращена подача горячей воды.\n"
            "Допустимый перерыв на время ежегодного ремонта — не более 14 суток (ПП РФ № 354).",
            starts_at=now - day,  # under way: three more days
            ends_at=now + 3 * day,
            valid_until=now + 3 * day,
            published_at=now - 11 * day,
            targets=[NoticeTarget(building_id=b1.id)],
        ),
        Notice(
            author_id=staff.id,
            author_role="staff",
            organisation_id=b1.organisation_id,
            category="planned",
            resource="electricity",
            title="Плановое отключение электроэнергии в 1 подъезде",
            body="Замена вводного кабеля. Просим заранее зарядить телефоны и не пользоваться лифтом.",
            starts_at=now + 5 * day,
            ends_at=now + 5 * day + 3 * hour,
            valid_until=now + 5 * day + 3 * hour,
            published_at=now - 2 * hour,
            targets=[NoticeTarget(building_id=b1.id, entrance=1)],
        ),
        Notice(
            author_id=rso_user.id,
            author_role="rso",
            category="emergency",
            resource="cold_water",
            organisation_id=next(s.id for s in b1.suppliers),
            urgent=True,
            title="Авария на водоводе по ул. Бабушкина",
            body="Аварийная бригада на месте. Подача холодной воды будет восстановлена в течение двух часов.",
            starts_at=now - 2 * hour,  # going on now
            ends_at=now + 2 * hour,
            published_at=now - 2 * hour + timedelta(minutes=10),
            targets=[NoticeTarget(building_id=b1.id), NoticeTarget(building_id=b2.id)],
        ),
        Notice(
            author_id=staff.id,
            author_role="staff",
            organisation_id=b2.organisation_id,
            category="emergency",
            resource="electricity",
            title="Отключение электроэнергии во 2 подъезде",
            body="Замена автомата в этажном щите. Электроснабжение восстановлено.",
            starts_at=now - 6 * day,
            ends_at=now - 6 * day + hour,
            published_at=now - 6 * day,
            targets=[NoticeTarget(building_id=b2.id, entrance=2)],
        ),
        Notice(
            author_id=council.id,
            author_role="council",
            category="meeting",
            title=f"Общее собрание собственников {date_ru(meeting_day)}",
            body=f"Повестка: выбор подрядчика на ремонт подъездов, утверждение плана работ на {meeting_day.year + 1} "
            "год. Начало в 18:30 у первого подъезда, в непогоду — в холле.",
            starts_at=meeting_at,
            valid_until=meeting_at + 3 * hour,
            published_at=now - 2 * day,
            targets=[NoticeTarget(building_id=b1.id)],
        ),
    ]
    for i in range(12):
        notices.append(
            Notice(
                author_id=staff.id,
                author_role="staff",
                organisation_id=b1.organisation_id,
                category="info" if i % 3 else "works",
                title=f"Уборка придомовой территории, неделя {i + 1}",
                body="График уборки двора и вывоза мусора на неделю опубликован на стенде у подъезда.",
                published_at=now - (7 * i + 5) * day,
                valid_until=now - (7 * i) * day,
                targets=[NoticeTarget(building_id=b1.id)],
            )
        )
    db.session.add_all(notices)
    db.session.add_all(
        [
            Announcement(
                author_id=owner.id,
                author_name="Сэсэг",
                author_street=b1.street,
                category="sale",
                title="Отдам детскую коляску",
                body="Коляска зима-лето, в хорошем состоянии. Забирать самовывозом.",
                contact="+7 914 123-45-67",
                scope="building",
                building_id=b1.id,
                created_at=now - day,
                expires_at=now + 13 * day,
            ),
            Announcement(
                author_id=owner2.id,
                author_name="Андрей",
                author_street=b1.street,
                category="lost",
                title="Найдены ключи у второго подъезда",
                body="Связка из трёх ключей с брелоком. Спросите у консьержа второго подъезда.",
                scope="portal",
                building_id=b1.id,
                created_at=now - 2 * day,
                expires_at=now + 5 * day,
            ),
            Announcement(
                author_id=council.id,
                author_name="Ирина Николаевна",
                author_street=b1.street,
                category="help",
                title="Ищем волонтёров для уборки двора",
                body="В субботу в 11:00 субботник. Инвентарь выдаст управляющая компания.",
                scope="building",
                building_id=b1.id,
                created_at=now - 3 * day,
                expires_at=now + 4 * day,
            ),
        ]
    )
    db.session.commit()


def _seed_appeals(by_number, owner, owner2, staff) -> None:
    """A few appeals in different states (numbers taken through the real service): one in progress within its
    deadline, one done, and one still registered and overdue by the production calendar (holidays included)."""
    from datetime import timedelta

    from app.formatting import period_ru
    from app.models.base import utcnow
    from app.services import appeals
    from app.services.periods import add_months, current_month

    now, day = utcnow(), timedelta(days=1)
    last_bill = period_ru(add_months(current_month(now), -1))
    categories = {c.code: c for c in appeals.categories_for(by_number["12"].building.organisation_id)}
    cats = {code: c.id for code, c in categories.items()}
    first = appeals.appeal_file(actor=owner, premises=by_number["12"], category_id=cats["REPAIR"],
                                place_kind="entrance", place_detail="3 этаж, у лифта",
                                text="Третий день не горит свет на лестничной площадке.", now=now - 2 * day)
    appeals.appeal_set_status(actor=staff, appeal=first, to="in_progress", now=now - 2 * day + timedelta(hours=3))
    appeals.appeal_comment(actor=staff, appeal=first, text="Электрик придёт в ближайший рабочий день с 10 до 13.",
                           now=now - 2 * day + timedelta(hours=3))
    second = appeals.appeal_file(actor=owner2, premises=by_number["13"], category_id=cats["INFO"],
                                 place_kind="other", place_detail=None,
                                 text=f"Прошу разъяснить начисление за отопление в квитанции за {last_bill}.",
                                 now=now - 3 * day)
    appeals.appeal_set_status(actor=staff, appeal=second, to="done", now=now - 2 * day)
    # Overdue whatever today is: filed far enough back that its deadline (10 working days) has passed.
    filed = now - 15 * day
    while appeals.deadline_for(categories["COMPLAINT"], filed) > now - day:
        filed -= day
    appeals.appeal_file(actor=owner, premises=by_number["12"], category_id=cats["COMPLAINT"], place_kind="yard",
                        place_detail=None, text="Во дворе третью неделю не вывозят мусор.", now=filed)


def _seed_questions(b1, staff, owner, owner2) -> None:
    """Questions for the inbox demo (no emails are queued for demo data): a new one and one to the council from
    кв. 13, one claimed by `staff`, one answered by `staff`."""
    from datetime import timedelta

    from app.formatting import period_ru
    from app.models import Question, QuestionMessage
    from app.models.appeals import QuestionStatus
    from app.models.base import utcnow
    from app.services.periods import add_months, current_month

    now, hour = utcnow(), timedelta(hours=1)
    last_bill = period_ru(add_months(current_month(now), -1))
    p12 = next(o.premises for o in owner.ownerships if o.premises.building_id == b1.id)
    p13 = owner2.ownerships[0].premises

    def question(author, premises, addressee, subject, text, *, at, claimed_by=None, reply=None):
        q = Question(author_id=author.id, building_id=b1.id, premises_id=premises.id, addressee=addressee,
                     organisation_id=b1.organisation_id if addressee == "uk" else None, subject=subject,
                     status=QuestionStatus.ANSWERED if reply else QuestionStatus.NEW, created_at=at,
                     updated_at=at + 2 * hour if reply else at, claimed_by_id=claimed_by.id if claimed_by else None,
                     claimed_at=at + hour if claimed_by else None)
        q.messages.append(QuestionMessage(author_id=author.id, from_owner=True, text=text, created_at=at))
        if reply:
            q.messages.append(QuestionMessage(author_id=claimed_by.id, from_owner=False, text=reply,
                                              created_at=at + 2 * hour))
        return q

    db.session.add_all([
        question(owner2, p13, "uk", "Не горит свет на 4 этаже",
                 "Третью неделю не горит лампа у лифта на четвёртом этаже, вечером темно.", at=now - 5 * hour),
        question(owner, p12, "uk", "Почему выросло начисление за отопление?",
                 f"Прошу объяснить, почему в квитанции за {last_bill} начисление за отопление выше, чем год назад.",
                 at=now - 30 * hour, claimed_by=staff),
        question(owner2, p13, "uk", "Когда отремонтируют дорогу во дворе?",
                 "Во дворе не проехать, яма у второго подъезда.", at=now - 72 * hour, claimed_by=staff,
                 reply="Техника будет в четверг с 8 до 12 часов. Просим убрать машины от второго подъезда."),
        question(owner2, p13, "council", "Шлагбаум во дворе",
                 "Можно ли включить в повестку общего собрания установку шлагбаума?", at=now - 48 * hour),
    ])
    db.session.commit()
