"""onboarding: organisation contacts and form, building identifiers, council terms, per-resource suppliers,
the register of owners (owner_records)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('management_form', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('ads_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('office_hours', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fias_guid', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('gis_house_code', sa.String(length=40), nullable=True))

    with op.batch_alter_table('council_memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('term_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('term_to', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('protocol_number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('protocol_date', sa.Date(), nullable=True))

    with op.batch_alter_table('building_suppliers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resources', sa.JSON(), nullable=True))

    op.create_table('owner_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('premises_id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('share_num', sa.Integer(), nullable=False),
    sa.Column('share_den', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('share_num > 0 AND share_den > 0 AND share_num <= share_den', name=op.f('ck_owner_records_share')),
    sa.ForeignKeyConstraint(['premises_id'], ['premises.id'], name=op.f('fk_owner_records_premises_id_premises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_owner_records_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_records')),
    sa.UniqueConstraint('premises_id', 'full_name', name=op.f('uq_owner_records_premises_id_full_name'))
    )
    with op.batch_alter_table('owner_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_records_premises_id'), ['premises_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_records_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('owner_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_owner_records_user_id'))
        batch_op.drop_index(batch_op.f('ix_owner_records_premises_id'))
    op.drop_table('owner_records')

    with op.batch_alter_table('building_suppliers', schema=None) as batch_op:
        batch_op.drop_column('resources')

    with op.batch_alter_table('council_memberships', schema=None) as batch_op:
        batch_op.drop_column('protocol_date')
        batch_op.drop_column('protocol_number')
        batch_op.drop_column('term_to')
        batch_op.drop_column('term_from')

    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.drop_column('gis_house_code')
        batch_op.drop_column('fias_guid')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('active')
        batch_op.drop_column('office_hours')
        batch_op.drop_column('ads_phone')
        batch_op.drop_column('management_form')
