"""Reading, typing, splitting, snapshotting and generating tabular data."""
