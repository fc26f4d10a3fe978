"""Meters: УК staff add, replace (with a new initial reading) and archive them."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from app.access import access_for
from app.extensions import db
from app.models import Building, Meter, Premises, User
from app.models.base import utcnow
from app.models.metering import Resource
from app.services import readings as readings_svc
from app.services.audit import audit_record
from app.services.context import NO_ORIGIN, Origin
from app.services.errors import Invalid, NotAllowed
from app.services.periods import current_month
from app.services.validation import clean_text, validate_all

TARIFFS = {"single": (None,), "day_night": ("T1", "T2"), "three": ("T1", "T2", "T3")}


@dataclass(frozen=True)
class MeterSpec:
    resource: str
    tariff: str
    serial_number: str
    place: str | None
    installed_on: str | date | None
    next_verification_on: str | date | None
    digits: str | int | None
    initial_value: str | None


def parse_date(raw, field: str, label: str) -> date | None:
    """'2026-11-24' (an HTML date input) or '24.11.2026'; None for empty."""
    if raw is None or isinstance(raw, date):
        return raw
    raw = raw.strip()
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise Invalid(field, f"Введите {label} в формате ДД.ММ.ГГГГ")


def _require_uk_staff(actor: User, building: Building) -> None:
    if not access_for(actor).uk_manages(building):
        raise NotAllowed("Счётчики ведёт управляющая организация")


def _clean(spec: MeterSpec, *, initial_field: str = "initial_value") -> dict:
    def resource():
        try:
            return Resource(spec.resource)
        except ValueError:
            raise Invalid("resource", "Выберите ресурс") from None

    def tariff():
        if spec.tariff not in TARIFFS:
            raise Invalid("tariff", "Выберите тарифность")
        if spec.tariff != "single" and spec.resource != Resource.ELECTRICITY:
            raise Invalid("tariff", "Многотарифными бывают только счётчики электроэнергии")
        return TARIFFS[spec.tariff]

    def digits():
        try:
            value = int(str(spec.digits).strip())
        except ValueError:
            value = 0
        if not 3 <= value <= 9:
            raise Invalid("digits", "Укажите, сколько цифр до запятой на счётчике: от 3 до 9")
        return value

    def installed():
        return parse_date(spec.installed_on, "installed_on", "дату установки")

    def verification():
        value = parse_date(spec.next_verification_on, "next_verification_on", "дату следующей поверки")
        if value is None:
            raise Invalid("next_verification_on", "Укажите дату следующей поверки из паспорта счётчика")
        return value

    try:
        digit_count = int(str(spec.digits).strip())
    except ValueError:
        digit_count = 9

    values = validate_all({
        "resource": resource,
        "tariff": tariff,
        "serial_number": lambda: clean_text(spec.serial_number, "serial_number", "заводской номер", max_len=40),
        "place": lambda: clean_text(spec.place, "place", "место", max_len=100, required=False) or None,
        "digits": digits,
        "installed_on": installed,
        "next_verification_on": verification,
        initial_field: lambda: readings_svc.parse_value(spec.initial_value or "0", Meter(digits=digit_count),
                                                        initial_field),
    })
    if values["installed_on"] and values["next_verification_on"] <= values["installed_on"]:
        raise Invalid("next_verification_on", "Дата следующей поверки должна быть позже даты установки")
    return values


def meter_add(*, actor: User, building: Building, premises: Premises | None, spec: MeterSpec,
              origin: Origin = NO_ORIGIN) -> list[Meter]:
    """A new meter (one register per tariff zone) for premises, or a building meter (ОДПУ) if premises is None."""
    _require_uk_staff(actor, building)
    if premises is not None and premises.building_id != building.id:
        raise NotAllowed("Помещение из другого дома")
    v = _clean(spec)
    registers = [
        Meter(premises_id=premises.id if premises else None, building_id=building.id, resource=v["resource"],
              zone=zone, serial_number=v["serial_number"], place=v["place"], installed_on=v["installed_on"],
              next_verification_on=v["next_verification_on"], digits=v["digits"], initial_value=v["initial_value"])
        for zone in v["tariff"]
    ]
    db.session.add_all(registers)
    db.session.flush()
    audit_record(actor=actor, action="meter_added", entity_type="premises" if premises else "building",
                 entity_id=premises.id if premises else building.id,
                 changes={"serial_number": v["serial_number"], "resource": v["resource"].value}, origin=origin)
    db.session.commit()
    return registers


def device_registers(meter: Meter) -> list[Meter]:
    """All registers of the same device (same serial, same place), the given one included."""
    same_place = Meter.premises_id.is_(None) if meter.premises_id is None else Meter.premises_id == meter.premises_id
    return list(db.session.scalars(select(Meter).where(
        Meter.building_id == meter.building_id, same_place, Meter.serial_number == meter.serial_number,
        Meter.resource == meter.resource, Meter.archived.is_(False))))


def meter_archive(*, actor: User, meter: Meter, now: datetime | None = None, origin: Origin = NO_ORIGIN) -> None:
    building = db.session.get(Building, meter.building_id)
    _require_uk_staff(actor, building)
    now = now or utcnow()
    for register in device_registers(meter):
        register.archived, register.archived_at = True, now
    audit_record(actor=actor, action="meter_archived", entity_type="premises" if meter.premises_id else "building",
                 entity_id=meter.premises_id or meter.building_id, changes={"serial_number": meter.serial_number},
                 origin=origin)
    db.session.commit()


def meter_replace(*, actor: User, meter: Meter, spec: MeterSpec, final_values: dict[int, str] | None = None,
                  now: datetime | None = None, origin: Origin = NO_ORIGIN) -> list[Meter]:
    """Replace a device: optional final readings of the old registers for the current month, the old device
    archived, the new one with its initial reading. All in one transaction."""
    building = db.session.get(Building, meter.building_id)
    _require_uk_staff(actor, building)
    now = now or utcnow()
    old = device_registers(meter)
    spec_values = _clean(spec)
    if spec_values["resource"] != meter.resource:
        raise Invalid("resource", "При замене ресурс не меняется")
    period = current_month(now)
    errors = {}
    for register in old:
        raw = (final_values or {}).get(register.id, "").strip()
        if not raw:
            continue
        try:
            existing = readings_svc.meter_lines([register], period)[0].reading
            readings_svc._enter(actor=actor, meter=register, period=period, raw=raw,
                                expected_version=existing.version if existing else None, now=now, origin=origin)
        except Invalid as error:
            errors[f"final_{register.id}"] = error.message
    if errors:
        db.session.rollback()
        raise Invalid.from_errors(errors)
    for register in old:
        register.archived, register.archived_at = True, now
    new = [
        Meter(premises_id=meter.premises_id, building_id=meter.building_id, resource=spec_values["resource"],
              zone=zone, serial_number=spec_values["serial_number"], place=spec_values["place"],
              installed_on=spec_values["installed_on"], next_verification_on=spec_values["next_verification_on"],
              digits=spec_values["digits"], initial_value=spec_values["initial_value"], replaces_id=meter.id)
        for zone in spec_values["tariff"]
    ]
    db.session.add_all(new)
    db.session.flush()
    audit_record(actor=actor, action="meter_replaced", entity_type="premises" if meter.premises_id else "building",
                 entity_id=meter.premises_id or meter.building_id,
                 changes={"old": meter.serial_number, "new": spec_values["serial_number"],
                          "initial_value": str(spec_values["initial_value"])}, origin=origin)
    db.session.commit()
    return new


def building_meters(building: Building) -> list[Meter]:
    meters = db.session.scalars(select(Meter).where(Meter.building_id == building.id, Meter.premises_id.is_(None),
                                                    Meter.archived.is_(False)))
    return sorted(meters, key=lambda m: m.sort_key)


def premises_meters(premises: Premises, *, include_archived: bool = False) -> list[Meter]:
    query = select(Meter).where(Meter.premises_id == premises.id)
    if not include_archived:
        query = query.where(Meter.archived.is_(False))
    return sorted(db.session.scalars(query), key=lambda m: (m.archived, *m.sort_key))
