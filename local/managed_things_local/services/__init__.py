"""The local stand-ins of the AWS services the provider calls or is called by: the ResponseURL, DescribeStacks,
Secrets Manager, IAM, and the front door that takes AWS's hostnames to them."""
