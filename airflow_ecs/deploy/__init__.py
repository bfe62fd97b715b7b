"""Deployment: terraform outputs -> the rendered Airflow config, and running Terraform."""
