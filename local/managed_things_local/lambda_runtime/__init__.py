"""The local Lambda runtime: the provider functions of an assembly, run in warm execution environments (their pool,
variables and log lines), invoked through Lambda's asynchronous queue."""
