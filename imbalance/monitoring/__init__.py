"""Monitoring a run's data against the champion's: drift of the features and the positive rate."""
