"""Queueing a study's dose objects for the national dose node (SEEDS 003).

A study is queued in the transaction that indexes its dose document: its ``dose_node_send``
row (state ``local``) and an outbox message commit with the instance, so a crash or a node
that is down loses nothing. :mod:`imaging.dose.sending` delivers it.
"""

from __future__ import annotations

from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import outbox
from hub.models import utcnow
from imaging.dose.models import NodeSend, NodeState

TOPIC = "imaging.dose_node"
# Under the hub's own root (that of its implementation class UID): KOS documents it creates.
UID_PREFIX = "1.2.826.0.1.3680043.10.1408.2."


def new_uid() -> str:
    return str(generate_uid(prefix=UID_PREFIX))


def queue_study(session: Session, study_id: int) -> NodeSend:
    """Queue (or queue again, with a new KOS naming every dose document) the study."""
    row = session.scalar(select(NodeSend).where(NodeSend.study_id == study_id))
    now = utcnow()
    if row is None:
        row = NodeSend(
            study_id=study_id,
            state=NodeState.LOCAL,
            kos_sop_instance_uid=new_uid(),
            kos_series_instance_uid=new_uid(),
            delivered=[],
            attempts=0,
            queued_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        # A further dose document: the KOS must name it too, so it is a new KOS (one built
        # before is never sent); the dose SRs the node already accepted are not sent again.
        row.kos_sop_instance_uid = new_uid()
        row.state = NodeState.LOCAL
        row.status, row.comment, row.accepted_at = None, None, None
        row.updated_at = now
    session.flush()
    outbox.add(session, TOPIC, {"study_id": study_id})
    return row
