"""Where the loop keeps its state: one contract per store (in each capability's ``base``
module), implementations per backend kind, and :class:`~driftloop.backends.catalog.Backends`,
the one place that builds them from the settings."""
