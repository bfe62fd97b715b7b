"""The AWS adapters: ECS, SQS and CloudWatch Logs calls, credentials, the launcher and its rate limit."""
