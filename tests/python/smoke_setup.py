"""Creates the AWS resources of the Lambda smoke check in a moto server (boto3 ships with moto).

Usage: python3 tests/python/smoke_setup.py  (AWS_ENDPOINT_URL etc. from the environment)
Prints the SNS topic ARN.
"""

import os

import boto3

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
REGION = os.environ.get("AWS_REGION", "us-east-1")


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=REGION)


def main():
    s3 = client("s3")
    s3.create_bucket(Bucket="shopflow-dev-lake")
    # The body whose MD5 (the S3 ETag) and size events/transformer/s3-put.json announces: the
    # transformer processes the version an event names.
    s3.put_object(
        Bucket="shopflow-dev-lake",
        Key="landing/transactions/transactions_2026-11-21.csv",
        Body=(
            b"transaction_id,customer_id,product_id,quantity,amount,transaction_date\n"
            b"T001,C123,P456,2,199.98,2026-11-21 10:30:00\n"
            b"T002,C124,P457,0,99.99,2026-11-21 11:45:00\n"
        ),
    )
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName="shopflow-dev-fetch-tasks", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="shopflow-dev-fetch-tasks")
    ddb = client("dynamodb")
    for table, key in (("ledger", "object_id"), ("runs", "idempotency_key"), ("products", "product_id")):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    topic = client("sns").create_topic(Name="shopflow-dev-reports")["TopicArn"]
    print(topic)


if __name__ == "__main__":
    main()
