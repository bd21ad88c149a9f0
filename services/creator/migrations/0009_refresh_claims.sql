-- A claim's lease is recorded apart from the next refresh time too, so that a replica deciding how many refreshes the
-- upstream budget allows can count the refreshes claimed and not yet finished by every replica (their requests may
-- not have left the budget yet). Cleared when the refresh is stored, fails or is given back; a crashed replica's
-- lease simply passes. Only rows with a lease are indexed: a handful, however many creators are tracked.
ALTER TABLE creator.refresh_schedule ADD COLUMN leased_until timestamptz;
CREATE INDEX refresh_schedule_leased ON creator.refresh_schedule (leased_until) WHERE leased_until IS NOT NULL;
