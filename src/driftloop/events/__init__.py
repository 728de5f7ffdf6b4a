"""Events: their shape and log, EventBridge-style patterns and rules, and delivery to targets."""
