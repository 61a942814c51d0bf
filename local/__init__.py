"""Stand-ins for AWS services, so the deployed Lambda code runs unchanged on a laptop (`meterbill serve`)."""
