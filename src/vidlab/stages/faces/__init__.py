"""The `faces` stage: faces counted, or blurred into a verified release copy."""
