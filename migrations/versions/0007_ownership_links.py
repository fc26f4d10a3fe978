"""ownership link requests (the owner's consent before an existing account gets another premises)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ownership_link_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('premises_id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('share_num', sa.Integer(), nullable=False),
    sa.Column('share_den', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_role', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'declined', 'withdrawn', 'expired', name='linkstatus', native_enum=False, length=10), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['premises_id'], ['premises.id'], name=op.f('fk_ownership_link_requests_premises_id_premises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_ownership_link_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ownership_link_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ownership_link_requests'))
    )
    with op.batch_alter_table('ownership_link_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownership_link_requests_premises_id'), ['premises_id'], unique=False)
        batch_op.create_index('ix_ownership_link_requests_user_status', ['user_id', 'status'], unique=False)
        # At most one pending request per premises and typed login (partial unique index, both dialects).
        batch_op.create_index('uq_ownership_link_requests_pending', ['premises_id', 'login'], unique=True,
                              sqlite_where=sa.text("status = 'pending'"),
                              postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table('ownership_link_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_ownership_link_requests_pending')
        batch_op.drop_index('ix_ownership_link_requests_user_status')
        batch_op.drop_index(batch_op.f('ix_ownership_link_requests_premises_id'))

    op.drop_table('ownership_link_requests')
