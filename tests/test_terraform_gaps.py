"""The SQS attribute moto does not keep, kept in front of it (airflow_ecs.local.terraform_gaps): the decisions."""

from __future__ import annotations

from airflow_ecs.local.terraform_gaps import answer, outgoing, remember

URL = "http://127.0.0.1:5000/123456789012/dlq"
POLICY = '{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:123456789012:events"]}'


def test_a_set_redrive_allow_policy_is_returned_by_get_queue_attributes():
    kept: dict = {}
    remember("AmazonSQS.SetQueueAttributes", {"QueueUrl": URL, "Attributes": {"RedriveAllowPolicy": POLICY}}, {}, kept)
    # The provider asks with the host it was given; moto answers with its own: the path names the queue.
    request = {"QueueUrl": "http://localhost:5000/123456789012/dlq", "AttributeNames": ["All"]}
    got = answer("AmazonSQS.GetQueueAttributes", request, {"Attributes": {"QueueArn": "arn"}}, kept)
    assert got == {"Attributes": {"QueueArn": "arn", "RedriveAllowPolicy": POLICY}}


def test_only_when_asked_for_and_only_for_that_queue():
    kept: dict = {}
    remember("AmazonSQS.CreateQueue", {"QueueName": "dlq", "Attributes": {"RedriveAllowPolicy": POLICY}},
             {"QueueUrl": URL}, kept)
    response = {"Attributes": {"QueueArn": "arn"}}
    assert answer("AmazonSQS.GetQueueAttributes", {"QueueUrl": URL, "AttributeNames": ["QueueArn"]}, response,
                  kept) is response
    other = {"QueueUrl": URL.replace("dlq", "events"), "AttributeNames": ["All"]}
    assert answer("AmazonSQS.GetQueueAttributes", other, response, kept) is response
    assert answer("AmazonSQS.ReceiveMessage", {"QueueUrl": URL}, response, kept) is response


def test_a_deleted_queue_forgets_it():
    kept: dict = {}
    remember("AmazonSQS.SetQueueAttributes", {"QueueUrl": URL, "Attributes": {"RedriveAllowPolicy": POLICY}}, {}, kept)
    remember("AmazonSQS.DeleteQueue", {"QueueUrl": URL}, {}, kept)
    response = {"Attributes": {}}
    assert answer("AmazonSQS.GetQueueAttributes", {"QueueUrl": URL, "AttributeNames": ["All"]}, response,
                  kept) is response


def test_moto_is_not_asked_for_the_attribute_it_refuses():
    request = {"QueueUrl": URL, "AttributeNames": ["RedriveAllowPolicy"]}
    assert outgoing("AmazonSQS.GetQueueAttributes", request) == {"QueueUrl": URL, "AttributeNames": []}
    untouched = {"QueueUrl": URL, "AttributeNames": ["All"]}
    assert outgoing("AmazonSQS.GetQueueAttributes", untouched) is untouched
