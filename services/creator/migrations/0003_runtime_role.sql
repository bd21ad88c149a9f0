-- Defence in depth for row-level security. Migrations run as creator_owner, which owns the schema and every object in
-- it; the service runs as creator_svc, which owns nothing: it cannot ALTER TABLE ... DISABLE (or NO FORCE) ROW LEVEL
-- SECURITY, change or drop a policy, or create objects. It gets what it uses: USAGE on the schema and DML on the
-- tables and sequences, present ones here and later ones through default privileges. FORCE makes the owner obey the
-- policies too.
DO $$
BEGIN
    IF current_user = 'creator_svc' THEN
        RAISE EXCEPTION 'migrations run as the schema owner creator_owner (MIGRATION_DATABASE_URL), not as the runtime '
            'role creator_svc; run the bootstrap (python -m following.dbroles) first';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA creator TO creator_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA creator TO creator_svc;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA creator TO creator_svc;
REVOKE ALL ON creator.schema_migrations FROM creator_svc;
ALTER DEFAULT PRIVILEGES IN SCHEMA creator GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO creator_svc;
ALTER DEFAULT PRIVILEGES IN SCHEMA creator GRANT USAGE, SELECT ON SEQUENCES TO creator_svc;

ALTER TABLE creator.unlocks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
