"""The pure core: configuration, requests, and the decisions (no boto3, no Airflow, no threads)."""
