"""Shared runtime of every Following service: settings, logs, errors, PostgreSQL, migrations, the gRPC server."""
