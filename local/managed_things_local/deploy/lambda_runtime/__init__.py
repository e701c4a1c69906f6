"""The pieces of the local Lambda runtime: execution environments, their pool, their variables and log lines."""
