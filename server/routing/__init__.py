"""The routing table (an immutable snapshot swapped atomically) and the per-request route decision."""
