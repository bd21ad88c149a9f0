"""The command-line client for people: `python -m client --help` (or `bin/following`)."""
