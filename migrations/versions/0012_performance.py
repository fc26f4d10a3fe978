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
    # Login lookup by the normalised login (accounts.find_by_login: lower(login) = :login).
    op.create_index("ux_users_login_lower", "users", [sa.text("lower(login)")], unique=True)
    # The УК / РСО inbox: addressee + organisation_id (+ status for the tabs).
    op.create_index("ix_questions_inbox_org", "questions", ["addressee", "organisation_id", "status"])
    # Readings by (meter, period): the unique constraint uq_readings_meter_id_period already is that index
    # (the board's "latest before the month" reads it backwards); nothing to add.
    # --- end scale ---
    # --- fixedcost ---
    # The unread-notices badge cached on users (app/services/notices.py unread_count).
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('unread_notices', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unread_key', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('unread_from', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unread_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('notices_gen', sa.Integer(), server_default='0', nullable=False))
    # --- end fixedcost ---
    pass


def downgrade():
    # --- fixedcost ---
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('notices_gen')
        batch_op.drop_column('unread_until')
        batch_op.drop_column('unread_from')
        batch_op.drop_column('unread_key')
        batch_op.drop_column('unread_notices')
    # --- end fixedcost ---
    # --- scale ---
    op.drop_index("ix_questions_inbox_org", table_name="questions")
    op.drop_index("ux_users_login_lower", table_name="users")
    # --- end scale ---
    pass
