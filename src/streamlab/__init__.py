"""streamlab: an integration harness for DynamoDB Streams -> AWS Lambda applications."""

__version__ = "0.1.0"
