import sys

from airflow_ecs.cli import main

sys.exit(main())
