"""The `shiprisk` command: composes the commands of training/ and serving/."""
