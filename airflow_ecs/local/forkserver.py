"""The process runtime's warm start: the worker's command forked from an interpreter that has Airflow imported.

Each task the process runtime runs is ``python -m airflow.sdk.execution_time.execute_workload ...``, and about
2 s of CPU of it is importing Airflow before the workload is even read. A zygote imports the worker's module
once and forks a process per task, which then runs the module as ``python -m`` would (``runpy``, as
``__main__``, with the task's argv and environment), in a session of its own, its output on the pipe the
runtime reads. Airflow forks the same way for the same reason (LocalExecutor's workers, the task supervisor's
task runner). What a cold start proves - the image, its entrypoint - is the container runtime's to prove.

Airflow reads part of its configuration when it is imported, so a zygote imports it with exactly the
environment of the tasks it forks: one zygote per distinct environment (``MAX_ZYGOTES`` at most). A task is
started cold (``subprocess.Popen``) while its zygote is still importing, when the zygote died, or when its
command is not the worker module's.

The zygote's protocol, one JSON object per line over a Unix socket (``socket.send_fds`` carries the pipe):
runtime -> zygote ``{"argv": [...]}`` with the output pipe's write end (the environment is the zygote's own,
as it was before it imported anything); zygote -> runtime
``{"ready": true}`` once imported, ``{"started": pid}`` or ``{"error": "..."}`` per request in order, and
``{"exited": pid, "code": c}`` (``Popen.returncode``'s convention: -N for a signal) whenever a child ends.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

WORKER_MODULE = "airflow.sdk.execution_time.execute_workload"
# Imported by the zygote besides the worker module: what its main() and execute_workload() import only when
# they run (base_executor alone is 0.2 s of CPU, for every task).
PRELOAD = (
    WORKER_MODULE,
    "airflow.executors.workloads",
    "airflow.executors.base_executor",
    "airflow.sdk.log",
    "airflow.settings",
)
MAX_ZYGOTES = 4  # distinct task environments kept warm (each zygote holds Airflow imported: ~150 MB)


def forkable(command: Sequence[str], module: str = WORKER_MODULE) -> bool:
    """Whether ``command`` (after the runtime's ``python`` -> this interpreter) is ``python -m <module> ...``."""
    return len(command) >= 3 and command[0] == sys.executable and command[1] == "-m" and command[2] == module


class ForkedProcess:
    """The part of ``subprocess.Popen`` the runtime uses, for a process the zygote forked: its pid (a session
    leader, as with ``start_new_session``), its output pipe, and its exit status as the zygote reports it."""

    def __init__(self, pid: int, stdout: Any, args: Sequence[str]):
        self.pid, self.stdout, self.args = pid, stdout, list(args)
        self.returncode: int | None = None
        self._ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def _end(self, code: int) -> None:
        self.returncode = code
        self._ended.set()


class _Request:
    """A fork asked for: answered (in order) by the reader thread, or abandoned by a caller that stopped waiting."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.answer: dict[str, Any] = {}
        self.abandoned = False


class Zygote:
    """One warm interpreter for one environment, and the runtime's side of its socket."""

    def __init__(self, env: Mapping[str, str], preload: Sequence[str] = PRELOAD):
        self._sock, theirs = socket.socketpair()
        self._send_lock = threading.Lock()
        self._requests: list[_Request] = []  # in flight, answered in order
        self._children: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}  # a child that ended before its ForkedProcess was registered
        self.ready = False
        self.dead = False
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno()), *preload],
            env=dict(env),
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self._reader = threading.Thread(target=self._read, name="local-ecs-zygote", daemon=True)
        self._reader.start()

    def fork(self, argv: Sequence[str], timeout: float = 10.0) -> ForkedProcess | None:
        """A process running ``argv`` forked from this zygote, or None if the zygote cannot (the runtime then
        starts it cold)."""
        if not self.ready or self.dead:
            return None
        read_end, write_end = os.pipe()
        message = json.dumps({"argv": list(argv)}).encode() + b"\n"
        request = _Request()
        try:
            with self._send_lock:
                self._requests.append(request)
                socket.send_fds(self._sock, [message], [write_end])
        except OSError:
            self.dead = True
            os.close(read_end)
            return None
        finally:
            os.close(write_end)
        if not request.answered.wait(timeout):
            # It may still fork: a task started cold beside it would run twice, so the late child is killed
            # when its pid comes (_handle), and this zygote takes no more tasks.
            self.dead = True
            with self._send_lock:
                request.abandoned = True
            os.close(read_end)
            return None
        if "started" not in request.answer:
            os.close(read_end)
            return None
        pid = request.answer["started"]
        process = ForkedProcess(pid, os.fdopen(read_end, "rb", buffering=0), argv)
        with self._send_lock:
            self._children[pid] = process
            early = self._early_exits.pop(pid, None)
        if early is not None:
            process._end(early)
        return process

    def stop(self) -> None:
        self.dead = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self._handle(json.loads(line))
        self._died()

    def _handle(self, message: dict[str, Any]) -> None:
        if message.get("ready"):
            self.ready = True
        elif "exited" in message:
            with self._send_lock:
                child = self._children.pop(message["exited"], None)
                if child is None:
                    self._early_exits[message["exited"]] = message["code"]
            if child is not None:
                child._end(message["code"])
        else:  # the answer to the oldest request in flight
            with self._send_lock:
                request = self._requests.pop(0)
                request.answer = message
                abandoned = request.abandoned
            if abandoned and "started" in message:
                signal_session(message["started"], signal.SIGKILL)
            request.answered.set()

    def _died(self) -> None:
        """The zygote is gone: its children's ends can no longer be reported, so they are killed (as a
        container whose agent died would be) and reported killed; the runtime starts the next tasks cold."""
        self.dead = True
        with self._send_lock:
            children, self._children = dict(self._children), {}
            waiting, self._requests = list(self._requests), []
        for request in waiting:
            request.answered.set()
        for pid, child in children.items():
            signal_session(pid, signal.SIGKILL)
            child._end(-signal.SIGKILL)


def signal_session(pid: int, sig: int) -> None:
    """``sig`` to the process group ``pid`` leads (a task started in a session of its own, cold or forked),
    which may have ended already."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class ForkServer:
    """The zygotes of one runtime, by environment, for the commands that run ``module`` (the worker's)."""

    def __init__(self, module: str = WORKER_MODULE, preload: Sequence[str] = PRELOAD, max_zygotes: int = MAX_ZYGOTES):
        self.module, self.preload = module, tuple(preload)
        self.max_zygotes = max_zygotes
        self._zygotes: dict[frozenset[tuple[str, str]], Zygote] = {}
        self._lock = threading.Lock()
        self.forked = 0  # tasks started warm, and forkable ones started cold: for the tests
        self.cold = 0

    def start(self, command: Sequence[str], env: Mapping[str, str]) -> ForkedProcess | None:
        """The task forked from the zygote of its environment, or None to start it cold (its zygote is still
        importing, has died, or there are already ``max_zygotes`` others)."""
        if not forkable(command, self.module):
            return None
        key = frozenset(env.items())
        with self._lock:
            zygote = self._zygotes.get(key)
            if zygote is None and len(self._zygotes) < self.max_zygotes:
                zygote = self._zygotes[key] = Zygote(env, self.preload)
        process = zygote.fork(command) if zygote is not None else None
        if process is None:
            self.cold += 1
        else:
            self.forked += 1
        return process

    def stop(self) -> None:
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.stop()


# --- the zygote's side ---


def _child(argv: list[str], env: Mapping[str, str], out: int, sock: socket.socket, others: list[int]) -> None:
    """In the forked process: become what ``python -m <module> args`` started with ``start_new_session``
    would be, run the module, and exit with its status (never return into the zygote's loop). ``others``: the
    pipes of requests not forked yet, which are not this process's to hold open, and last the session pipe,
    written once this process leads its own session."""
    code = 1
    try:
        sock.close()
        os.setsid()
        os.write(others[-1], b"s")  # the session pipe (serve): the zygote may now say this child started
        for fd in others:
            os.close(fd)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.environ.clear()
        os.environ.update(env)
        module = argv[2]
        sys.argv = [module, *argv[3:]]
        # Imported in the zygote, run afresh as __main__ (runpy warns about a module it finds imported).
        sys.modules.pop(module, None)
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            if exit_.code is None:
                code = 0
            elif isinstance(exit_.code, int):
                code = exit_.code
            else:
                print(exit_.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - what python -m prints for an uncaught error, then exit 1
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe: nothing left to say it on
                pass
        os._exit(code & 0xFF)


def serve(fd: int, preload: Sequence[str]) -> None:
    """The zygote: import, say ready, then fork on each request and report each child's end, until the
    runtime closes the socket."""
    env = dict(os.environ)  # the tasks' environment, as it was before any import could change it
    for module in preload:
        importlib.import_module(module)
    sock = socket.socket(fileno=fd)
    sock.sendall(b'{"ready": true}\n')
    buffer, pending_fds = b"", []
    children: set[int] = set()
    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            try:
                data, fds, _flags, _address = socket.recv_fds(sock, 1 << 20, 8)
            except OSError:
                data, fds = b"", []
            if not data:
                break
            buffer += data
            pending_fds.extend(fds)
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request, out = json.loads(line), pending_fds.pop(0)
                sys.stdout.flush()
                sys.stderr.flush()
                # The child says when it leads its own session: only then is it "started", so that a stop at
                # once reaches its process group (as Popen returns only after start_new_session's setsid).
                session_read, session_write = os.pipe()
                try:
                    pid = os.fork()
                except OSError as error:
                    for fd in (out, session_read, session_write):
                        os.close(fd)
                    sock.sendall(json.dumps({"error": str(error)}).encode() + b"\n")
                    continue
                if pid == 0:
                    os.close(session_read)
                    _child(request["argv"], env, out, sock, [*pending_fds, session_write])
                os.close(out)
                os.close(session_write)
                os.read(session_read, 1)  # b"" if the child died first
                os.close(session_read)
                children.add(pid)
                sock.sendall(json.dumps({"started": pid}).encode() + b"\n")
        for pid in list(children):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                children.discard(pid)
                continue
            if done:
                children.discard(pid)
                code = os.waitstatus_to_exitcode(status)
                sock.sendall(json.dumps({"exited": pid, "code": code}).encode() + b"\n")
    sock.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
