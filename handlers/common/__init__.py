"""Code the demo handlers share; each function's zip includes it (``include = ["common"]``).

Nothing here creates AWS clients at import: boto3 already honours ``AWS_ENDPOINT_URL``, so the
same handler runs on AWS, LocalStack and the embedded endpoint without a line of configuration.
"""
