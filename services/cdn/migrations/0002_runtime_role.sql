-- The runtime role owns nothing. Migrations run as cdn_owner, which owns the schema and every object in it; the
-- service runs as cdn_svc, which cannot alter or drop a table or create objects. It gets what it uses: USAGE on the
-- schema and DML on the tables and sequences, present ones here and later ones through default privileges.
DO $$
BEGIN
    IF current_user = 'cdn_svc' THEN
        RAISE EXCEPTION 'migrations run as the schema owner cdn_owner (MIGRATION_DATABASE_URL), not as the runtime '
            'role cdn_svc; run the bootstrap (python -m following.dbroles) first';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA cdn TO cdn_svc;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cdn TO cdn_svc;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA cdn TO cdn_svc;
REVOKE ALL ON cdn.schema_migrations FROM cdn_svc;
ALTER DEFAULT PRIVILEGES IN SCHEMA cdn GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO cdn_svc;
ALTER DEFAULT PRIVILEGES IN SCHEMA cdn GRANT USAGE, SELECT ON SEQUENCES TO cdn_svc;
