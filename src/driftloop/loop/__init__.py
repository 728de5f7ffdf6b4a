"""The closed loop: events, rules, pipelines, retraining and deployment strategies."""
