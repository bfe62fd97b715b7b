"""Read once, when imported, as Airflow reads its configuration: what a zygote keeps from its environment."""

import os

MARK = os.environ.get("TARGET_MARK")
