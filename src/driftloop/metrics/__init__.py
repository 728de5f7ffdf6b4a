"""The metric store (CloudWatch-style datapoints) and statistics over periods."""
