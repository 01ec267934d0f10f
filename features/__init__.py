"""The canonical data contract, source mappings and feature definitions shared by training and serving."""
