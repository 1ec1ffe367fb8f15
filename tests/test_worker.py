from __future__ import annotations

from app.health.service import OUTBOX_KINDS
from app.resources import open_resources
from app.settings import Settings
from app.worker import build_worker


async def test_health_lists_exactly_the_kinds_the_worker_handles(settings: Settings) -> None:
    # Both are assembled from the features' own kinds; a feature added to one only would
    # leave its backlog unreported, or report a kind nothing handles.
    async with open_resources(settings) as resources:
        handled = build_worker(resources, "kinds").handlers
    assert sorted(handled) == sorted(OUTBOX_KINDS)
    assert len(OUTBOX_KINDS) == len(set(OUTBOX_KINDS))
