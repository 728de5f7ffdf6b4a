"""Guarded deployments: all-at-once, canary, linear and shadow, with alarm-driven rollback."""
