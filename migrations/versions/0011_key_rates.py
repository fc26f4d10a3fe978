"""seed the Bank of Russia key rates (from 20.12.2021, in force on 01.01.2022) and the пени rate rules in force

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00

The data is frozen here (a migration must not import the app). The operator adds later rates on the console
(«Ставки и пени»). Sources: the Bank of Russia's press releases on the key rate (cbr.ru, «Ключевая ставка Банка
России»); the rules: docs/penalties.md.
"""
from datetime import date, datetime, timezone
from decimal import Decimal

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

CBR = "Банк России, решение Совета директоров о ключевой ставке (пресс-релиз от {})"

# (in force from, % a year, date of the Board of Directors' decision)
KEY_RATES = [
    (date(2021, 12, 20), "8.50", "17.12.2021"),
    (date(2022, 2, 14), "9.50", "11.02.2022"),
    (date(2022, 2, 28), "20.00", "28.02.2022"),
    (date(2022, 4, 11), "17.00", "08.04.2022"),
    (date(2022, 5, 4), "14.00", "29.04.2022"),
    (date(2022, 5, 27), "11.00", "26.05.2022"),
    (date(2022, 6, 14), "9.50", "10.06.2022"),
    (date(2022, 7, 25), "8.00", "22.07.2022"),
    (date(2022, 9, 19), "7.50", "16.09.2022"),
    (date(2023, 7, 24), "8.50", "21.07.2023"),
    (date(2023, 8, 15), "12.00", "15.08.2023"),
    (date(2023, 9, 18), "13.00", "15.09.2023"),
    (date(2023, 10, 30), "15.00", "27.10.2023"),
    (date(2023, 12, 18), "16.00", "15.12.2023"),
    (date(2024, 7, 29), "18.00", "26.07.2024"),
    (date(2024, 9, 16), "19.00", "13.09.2024"),
    (date(2024, 10, 28), "21.00", "25.10.2024"),
    (date(2025, 6, 9), "20.00", "06.06.2025"),
    (date(2025, 7, 28), "18.00", "25.07.2025"),
    (date(2025, 9, 15), "17.00", "12.09.2025"),
    (date(2025, 10, 27), "16.50", "24.10.2025"),
    (date(2025, 12, 22), "16.00", "19.12.2025"),
    (date(2026, 2, 16), "15.50", "13.02.2026"),
]

# (from, to inclusive or None, mode, fixed rate, citation)
PENALTY_RULES = [
    (date(2020, 4, 6), date(2020, 12, 31), "suspended", None,
     "ПП РФ от 02.04.2020 № 424, п. 5: взыскание пеней за несвоевременную оплату ЖКУ приостановлено до 01.01.2021"),
    (date(2021, 1, 1), date(2022, 2, 27), "payment_day", None,
     "ЖК РФ ст. 155 ч. 14: ключевая ставка на день фактической оплаты"),
    (date(2022, 2, 28), date(2024, 12, 31), "capped", "9.50",
     "ПП РФ от 26.03.2022 № 474, п. 1 (ред. ПП от 23.09.2022 № 1681 и от 29.12.2023 № 2382): наименьшая из "
     "ключевой ставки на 27.02.2022 (9,5 %) и на день фактической оплаты"),
    (date(2025, 1, 1), date(2026, 12, 31), "capped", "9.50",
     "ПП РФ от 26.03.2022 № 474 (ред. ПП от 18.03.2025 № 329, с 01.01.2025 до 01.01.2027): наименьшая из "
     "ключевой ставки на 27.02.2022 (9,5 %) и на день фактической оплаты"),
    (date(2027, 1, 1), None, "payment_day", None,
     "ЖК РФ ст. 155 ч. 14: ключевая ставка на день фактической оплаты"),
]

key_rates = sa.table('key_rates', sa.column('valid_from', sa.Date), sa.column('rate', sa.Numeric(5, 2)),
                     sa.column('source', sa.String), sa.column('created_at', sa.DateTime(timezone=True)))
penalty_rules = sa.table('penalty_rules', sa.column('valid_from', sa.Date), sa.column('valid_to', sa.Date),
                         sa.column('mode', sa.String), sa.column('fixed_rate', sa.Numeric(5, 2)),
                         sa.column('citation', sa.String), sa.column('created_at', sa.DateTime(timezone=True)))


def upgrade():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    op.bulk_insert(key_rates, [
        {"valid_from": d, "rate": Decimal(r), "source": CBR.format(decided), "created_at": now}
        for d, r, decided in KEY_RATES])
    op.bulk_insert(penalty_rules, [
        {"valid_from": d, "valid_to": to, "mode": mode, "fixed_rate": Decimal(rate) if rate else None,
         "citation": citation, "created_at": now}
        for d, to, mode, rate, citation in PENALTY_RULES])


def downgrade():
    op.execute(key_rates.delete().where(key_rates.c.valid_from.in_([d for d, _, _ in KEY_RATES])))
    op.execute(penalty_rules.delete().where(penalty_rules.c.valid_from.in_([r[0] for r in PENALTY_RULES])))
