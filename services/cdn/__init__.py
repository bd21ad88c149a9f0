"""The CDN service: a durable priority job queue in PostgreSQL that mirrors creator images to object storage."""
