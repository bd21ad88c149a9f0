"""The sample upstream: a fake Instagram serving the same endpoints and JSON shapes for generated creators."""
