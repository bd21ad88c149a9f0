"""Attaches the authenticity block to a rendered report: reads the creator's follower history, then scores (pure,
authenticity.py). Called wherever a report is rendered, so stored reports, searches and refreshes carry it."""

from __future__ import annotations

import asyncpg
from creator.v1 import creator_pb2

from services.creator import authenticity

# The follower_jumps signal reads the newest snapshots of the last 90 days (at most one per refresh).
FOLLOWER_HISTORY = """
SELECT followers FROM (
    SELECT followers, captured_at, id FROM creator.profile_snapshots
     WHERE creator_id = $1 AND captured_at >= clock_timestamp() - interval '90 days'
     ORDER BY captured_at DESC, id DESC LIMIT 200) newest
 ORDER BY captured_at, id
"""


async def attach(conn: asyncpg.Connection, creator_id: int, report: creator_pb2.CreatorReport) -> None:
    history = [int(row["followers"]) for row in await conn.fetch(FOLLOWER_HISTORY, creator_id)]
    report.authenticity.CopyFrom(authenticity.from_report(report, history))
