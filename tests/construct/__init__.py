"""Synth-time tests of the ManagedThing construct (CDK assertions, cfn-lint, cdk-nag)."""
