ALTER TABLE widgets ADD COLUMN size integer;
ALTER TABLE no_such_table ADD COLUMN colour text;
