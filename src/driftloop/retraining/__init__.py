"""The retraining policy: when a retrain may run, and on which rows."""
