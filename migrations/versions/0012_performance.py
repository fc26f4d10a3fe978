"""performance: indexes for every lookup path of the 25th (issue #13)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:30:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # --- scale ---
    # --- end scale ---
    # --- fixedcost ---
    # --- end fixedcost ---
    pass


def downgrade():
    # --- fixedcost ---
    # --- end fixedcost ---
    # --- scale ---
    # --- end scale ---
    pass
