"""``python -m tests.forkserver_modules.target <what> ...``, run cold and forked by tests/test_forkserver.py."""

import json
import os
import sys
import time

from tests.forkserver_modules import settings


def main() -> None:
    what = sys.argv[1]
    if what == "report":
        print(
            json.dumps(
                {
                    "name": __name__,
                    "argv0": os.path.basename(sys.argv[0]),
                    "args": sys.argv[1:],
                    "mark": os.environ.get("TARGET_MARK"),
                    "mark_at_import": settings.MARK,
                    "environment": sorted(key for key in os.environ if key.startswith("TARGET_")),
                    "session_leader": os.getsid(0) == os.getpid(),
                    "stdin": sys.stdin.read(),
                }
            )
        )
        print("to stderr", file=sys.stderr)
    elif what == "exit":
        sys.exit(int(sys.argv[2]))
    elif what == "raise":
        raise RuntimeError("raised on purpose")
    elif what == "sleep":
        print("sleeping", flush=True)
        time.sleep(60)


if __name__ == "__main__":
    main()
