"""The engine: runs the plans of ``cloudformation`` through a Lambda runtime, stack by stack, with rollbacks,
recovery and reports; ``session`` builds every part in one place."""
