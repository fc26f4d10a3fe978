"""tabular_imports: one stored preview table for every import kind (readings, charges, house onboarding);
the readings imports move over from reading_imports with kind = 'readings' and their ids kept

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _reset_sequence(table):
    if op.get_bind().dialect.name == 'postgresql':  # rows copied with their ids do not move the sequence
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def upgrade():
    op.create_table('tabular_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.Date(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=True),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_tabular_imports_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_tabular_imports_building_id_buildings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_tabular_imports_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tabular_imports'))
    )
    with op.batch_alter_table('tabular_imports', schema=None) as batch_op:
        batch_op.create_index('ix_tabular_imports_kind_org', ['kind', 'organisation_id'], unique=False)
        batch_op.create_index('ix_tabular_imports_building', ['building_id'], unique=False)

    op.execute("INSERT INTO tabular_imports (id, kind, organisation_id, building_id, actor_id, period, filename, "
               "content_sha256, rows, summary, created_at, applied_at) "
               "SELECT id, 'readings', organisation_id, NULL, actor_id, period, filename, NULL, rows, NULL, "
               "created_at, applied_at FROM reading_imports")
    _reset_sequence('tabular_imports')

    with op.batch_alter_table('reading_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reading_imports_organisation_id'))
    op.drop_table('reading_imports')


def downgrade():
    op.create_table('reading_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_reading_imports_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_reading_imports_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reading_imports'))
    )
    with op.batch_alter_table('reading_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reading_imports_organisation_id'), ['organisation_id'], unique=False)
    # Only the readings imports had a table before; previews of the other kinds are dropped with this one.
    op.execute("INSERT INTO reading_imports (id, organisation_id, actor_id, period, filename, rows, created_at, "
               "applied_at) SELECT id, organisation_id, actor_id, period, filename, rows, created_at, applied_at "
               "FROM tabular_imports WHERE kind = 'readings' AND period IS NOT NULL")
    _reset_sequence('reading_imports')

    with op.batch_alter_table('tabular_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_tabular_imports_building')
        batch_op.drop_index('ix_tabular_imports_kind_org')
    op.drop_table('tabular_imports')
