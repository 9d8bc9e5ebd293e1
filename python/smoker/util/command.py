"""Command execution for plugins (the original's smoker.util.command API, psutil-free).

Children stay in the shim's process group, so smokerd's hard deadline reaches them;
the process tree for a timeout is read from /proc.
"""
import logging
import os
import subprocess
import time

lg = logging.getLogger(__name__)


class ExecutionTimeout(Exception):
    """The command ran past its timeout."""


class ThreadDeadlock(Exception):
    """The command could not be killed."""


def execute(command, timeout=None, **kwargs):
    """Runs command (a str through the shell, a list without); returns (stdout, stderr, retval)."""
    return Command(command, **kwargs).run(timeout)


def _children():
    """Map of parent pid to its children's pids, from /proc/*/stat."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def get_ptree(pid):
    """Descendants of pid, deepest first (pid itself not included)."""
    tree = _children()
    result = []

    def walk(parent):
        for child in tree.get(parent, []):
            walk(child)
            result.append(child)

    walk(pid)
    return result


def signal_ptree(pid, signal=15):
    """Sends signal to pid's descendants (deepest first), then to pid; gone processes are skipped."""
    for target in get_ptree(pid) + [pid]:
        try:
            os.kill(target, signal)
        except OSError:
            pass


class Command(object):
    """One command; `run(timeout)` returns (stdout, stderr, retval)."""

    def __init__(self, command, **kwargs):
        self.command = command
        self.process = None
        self.stdout = None
        self.stderr = None
        self.returncode = None
        popen_args = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "bufsize": 0}
        if isinstance(command, str):
            popen_args["shell"] = True
        self.kwargs = dict(popen_args, **kwargs)

    def __repr__(self):
        return "<Command '%s'>" % self.command

    def run(self, timeout=None, timeout_sigterm=3, timeout_sigkill=5):
        """Runs the command; on timeout TERM to the tree, then KILL, then ExecutionTimeout."""
        lg.debug("Executing command: command='%s'", self.command)
        self.process = subprocess.Popen(self.command, **self.kwargs)
        try:
            out, err = self.process.communicate(timeout=timeout or None)
        except subprocess.TimeoutExpired:
            self._stop(timeout_sigterm, timeout_sigkill)
            raise ExecutionTimeout("Execution timeout after %s seconds" % timeout)
        except BaseException:
            signal_ptree(self.process.pid, 9)
            raise
        self.stdout = out.decode("utf-8").strip() if out else ""
        self.stderr = err.decode("utf-8").strip() if err else ""
        self.returncode = self.process.returncode
        return (self.stdout, self.stderr, self.returncode)

    def _stop(self, sigterm_wait, sigkill_wait):
        signal_ptree(self.process.pid)
        deadline = time.monotonic() + sigterm_wait
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            signal_ptree(self.process.pid, 9)
            try:
                self.process.communicate(timeout=sigkill_wait)
            except subprocess.TimeoutExpired:
                raise ThreadDeadlock("Process %s deadlocked" % self.process.pid)
