ALTER TABLE widgets ADD COLUMN colour text;
SELECT pg_sleep(0.3);
