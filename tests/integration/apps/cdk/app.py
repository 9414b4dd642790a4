"""A small CDK app: a DynamoDB table whose stream feeds a Python function, which sends each new order to a queue.

The same app as ``../sam`` (whose handler it deploys); ``cdk deploy -c greeting=hola`` changes the
function's environment.
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

HANDLER = Path(__file__).resolve().parent.parent / "sam" / "src"


class OrdersStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str, greeting: str) -> None:
        super().__init__(scope, construct_id)
        table = dynamodb.Table(
            self,
            "Orders",
            partition_key=dynamodb.Attribute(name="order_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        queue = sqs.Queue(self, "OrderEvents")
        function = lambda_.Function(
            self,
            "Processor",
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="app.handler",
            code=lambda_.Code.from_asset(str(HANDLER)),
            environment={"GREETING": greeting, "EVENTS_QUEUE_URL": queue.queue_url},
        )
        queue.grant_send_messages(function)
        function.add_event_source(
            sources.DynamoEventSource(table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=10)
        )
        cdk.CfnOutput(self, "OrdersTable", value=table.table_name)
        cdk.CfnOutput(self, "EventsQueueUrl", value=queue.queue_url)
        cdk.CfnOutput(self, "ProcessorName", value=function.function_name)


app = cdk.App()
OrdersStack(app, "CdkOrders", greeting=app.node.try_get_context("greeting") or "hello")
app.synth()
