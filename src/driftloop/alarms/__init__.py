"""Metric store, CloudWatch-style alarms and notifications."""
