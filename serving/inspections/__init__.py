"""The inspection loop: declarations as scored, worklists, outcomes, export for retraining."""
