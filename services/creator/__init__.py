"""The creator service: searches Instagram creators, stores their profiles and posts, analyses them and unlocks them.

Composition root: `server.py`. Handlers: `handlers.py`. Domain (pure): `usernames.py`, `captions.py`, `analytics.py`,
`media.py` (CDN job planning), `records.py`. Adapters: `store.py`, `backlog.py`, `unlocks.py`, `budget.py`, `quota.py`
(PostgreSQL), `inference_client.py`, `cdn_client.py` (gRPC), `upstream/` (Instagram). Use cases: `search.py`,
`reports.py` (report rendering), `workers.py` (background components).
"""
