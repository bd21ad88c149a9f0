"""The creator service: searches Instagram creators, stores their profiles and posts, analyses them and unlocks them.

Composition root: `server.py`. Handlers: `handlers.py`. Domain (pure): `usernames.py`, `captions.py`, `analytics.py`,
`reports.py`. Adapters: `store.py` (PostgreSQL), `budget.py`, `unlocks.py`, `inference.py`, `media.py`, `upstream/`.
Flow: `search.py`. Background components: `workers.py`.
"""
