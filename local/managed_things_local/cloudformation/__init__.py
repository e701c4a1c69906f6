"""CloudFormation, pure: cloud assemblies and templates, intrinsics, plans, graphs, outputs, quotas, stack states
and the requests and events CloudFormation sends and lists. No process, no server, no boto3."""
