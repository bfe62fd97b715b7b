"""The tables of ``airflow-ecs status`` and ``airflow-ecs orphans``, to the byte: the row name (``task[map index]``),
markup in what ECS or Airflow said shown as written, long cells folded to the terminal's width (80 here), the
titles escaped too. The commands' other paths run in test_check_and_status.py and test_orphans.py."""

from __future__ import annotations

import pytest

from airflow_ecs.cli.orphans import print_orphans
from airflow_ecs.cli.task_status import TaskRow, render_table

RUNNING = TaskRow(
    "etl", "load", "scheduled__[bold]2026", -1, 1, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "RUNNING", None, "", ""
)
STOPPED = TaskRow("etl", "split", "r", 3, 2, "abc", "STOPPED", 137, "EssentialContainerExited", "out of memory [red]")


@pytest.fixture
def terminal(monkeypatch, capsys):
    """What a table printed, on an 80-column terminal without colour; each line ends with a newline."""
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "LINES"):
        monkeypatch.delenv(name, raising=False)
    return lambda: capsys.readouterr().out


def lines(*text: str) -> str:
    return "".join(line + "\n" for line in text)


def test_the_status_table(terminal):
    render_table([RUNNING, STOPPED], "ECS tasks of cluster [c] (2)")
    assert terminal() == lines(
        "                          ECS tasks of cluster [c] (2)                          ",
        "┏━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━┳━━━━━━━━━━━━┓",
        "┃     ┃          ┃            ┃     ┃            ┃         ┃      ┃ stop code  ┃",
        "┃ dag ┃ task     ┃ run        ┃ try ┃ ECS task   ┃ status  ┃ exit ┃ / reason   ┃",
        "┡━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━╇━━━━━━━━━━━━┩",
        "│ etl │ load     │ scheduled_ │ 1   │ 0f1e2d3c4b │ RUNNING │      │            │",
        "│     │          │ _[bold]202 │     │ 5a69788796 │         │      │            │",
        "│     │          │ 6          │     │ a5b4c3d2e1 │         │      │            │",
        "│     │          │            │     │ f0         │         │      │            │",
        "│ etl │ split[3] │ r          │ 2   │ abc        │ STOPPED │ 137  │ EssentialC │",
        "│     │          │            │     │            │         │      │ ontainerEx │",
        "│     │          │            │     │            │         │      │ ited out   │",
        "│     │          │            │     │            │         │      │ of memory  │",
        "│     │          │            │     │            │         │      │ [red]      │",
        "└─────┴──────────┴────────────┴─────┴────────────┴─────────┴──────┴────────────┘",
    )


def test_the_orphans_table(terminal):
    print_orphans([(RUNNING, "its task instance is [success]")], "[c]", stopped=False)
    assert terminal() == lines(
        "     Orphaned ECS tasks of cluster [c]: 1 found (dry run: --yes stops them)     ",
        "┏━━━━━┳━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━┓",
        "┃ dag ┃ task ┃ run            ┃ try ┃ ECS task      ┃ status  ┃ why            ┃",
        "┡━━━━━╇━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━┩",
        "│ etl │ load │ scheduled__[bo │ 1   │ 0f1e2d3c4b5a6 │ RUNNING │ its task       │",
        "│     │      │ ld]2026        │     │ 9788796a5b4c3 │         │ instance is    │",
        "│     │      │                │     │ d2e1f0        │         │ [success]      │",
        "└─────┴──────┴────────────────┴─────┴───────────────┴─────────┴────────────────┘",
    )


def test_the_orphans_table_with_none_stopped(terminal):
    print_orphans([], "c", stopped=True)
    assert terminal() == lines(
        "     Orphaned ECS tasks of cluster c: 0 stopped     ",
        "┏━━━━━┳━━━━━━┳━━━━━┳━━━━━┳━━━━━━━━━━┳━━━━━━━━┳━━━━━┓",
        "┃ dag ┃ task ┃ run ┃ try ┃ ECS task ┃ status ┃ why ┃",
        "┡━━━━━╇━━━━━━╇━━━━━╇━━━━━╇━━━━━━━━━━╇━━━━━━━━╇━━━━━┩",
        "└─────┴──────┴─────┴─────┴──────────┴────────┴─────┘",
    )
