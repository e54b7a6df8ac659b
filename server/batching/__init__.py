"""Dynamic batching: many small requests become one compute call, without waiting when nothing is gained."""
