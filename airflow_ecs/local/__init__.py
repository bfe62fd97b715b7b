"""The local ECS: moto's server for the AWS APIs plus our runtime for what moto does not do.

Used by ``make demo``, the end-to-end tests and the benchmarks; ``airflow-ecs local`` runs it alone.
"""
