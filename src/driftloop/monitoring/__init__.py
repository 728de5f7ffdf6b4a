"""Monitoring jobs over captured traffic: data quality, drift, model quality, reports."""
