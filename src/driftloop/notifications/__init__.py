"""SNS-style topics and their subscriptions (file, webhook, Slack, email)."""
