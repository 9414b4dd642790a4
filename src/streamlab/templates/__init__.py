"""SAM / CloudFormation templates as streamlab's one stack format.

- :mod:`.artifacts` finds a template's local code (``CodeUri: src/``), builds each directory as
  ``sam build`` does (its ``requirements.txt`` installed for where the code runs), uploads the
  zips to S3 and points the template at them, as ``sam package`` does;
- :mod:`.stacks` deploys the packaged template through the CloudFormation API (change sets, as
  ``sam deploy`` and ``aws cloudformation deploy`` do), reads outputs and resources, deletes;
- :mod:`.hot_reload` watches the code directories and swaps a function's code on change.

Everything goes through boto3 against an endpoint URL (or AWS), so it works on every backend.
"""
