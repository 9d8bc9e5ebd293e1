"""smokerd's Python shim (run by smoker_shim.py): one original-smoker Module, Parser,
action or probe per process.

Protocol v1: one JSON request line on stdin, one JSON reply line on the original
stdout; everything the plugin prints goes to stderr. Parameters arrive only here,
never in argv or the environment.
"""
import json
import os
import re
import signal
import sys
import time


def open_protocol():
    """The reply channel is the original fd 1; fd 1 then points at stderr, fd 0 at /dev/null."""
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    line = sys.stdin.readline()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return proto, line


def setup(req):
    """sys.path (shim dir first, then python.path), RLIMIT_DATA, logging to stderr.

    logging is set up only below WARNING: Python already prints WARNING and above to
    stderr, and not importing it keeps a run's start cheap.
    """
    import resource

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [here] + list(req.get("path") or []) + [p for p in sys.path if p != here]
    limit = int(req.get("maxMemory") or 0)
    if limit > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard == resource.RLIM_INFINITY or limit <= hard:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    level = req.get("logLevel") or "WARNING"
    if level != "WARNING":
        import logging

        logging.basicConfig(stream=sys.stderr, level=level)


class Worker(object):
    """What the original's PluginWorker offers a plugin: name, params, get_param, escape…"""

    def __init__(self, req):
        self.name = req.get("name")
        self.plugin_name = self.name
        self.params = req.get("params") or {}
        self.forced = bool(req.get("forced"))

    def get_param(self, name, default=None):
        try:
            return self.params[name]
        except KeyError:
            return default

    def error_result(self, message):
        from smoker.server.plugins import Result

        result = Result()
        result.set_status("ERROR")
        result.add_error(message)
        return result

    def escape(self, tbe):
        """re.escape of strings (also inside a dict or list); int, None and bool pass."""
        def one(value):
            if type(value) in (int, type(None), bool):
                return value
            try:
                return re.escape(value)
            except Exception:
                return value

        if isinstance(tbe, dict):
            return {key: one(value) for key, value in tbe.items()}
        if isinstance(tbe, list):
            return [one(value) for value in tbe]
        if isinstance(tbe, (str, bytes, int, bool)):
            return one(tbe)
        raise Exception("Unknown data type")


class Alarm(object):
    """The soft timeout: an interval timer raising PluginExecutionTimeout in the run."""

    def __init__(self, seconds):
        self.seconds = seconds

    def _fire(self, signum, frame):
        from smoker.server.exceptions import PluginExecutionTimeout

        raise PluginExecutionTimeout("Plugin execution timeouted")

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._fire)
        if self.seconds > 0:
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)


def as_result(value, fallback):
    """A run()'s or parse()'s return: a Result is kept, falsy → fallback, a dict → set_result."""
    from smoker.server.plugins import Result

    if not value:
        return fallback
    if isinstance(value, dict):
        result = Result()
        result.set_result(value)
        return result
    if hasattr(value, "get_result"):
        return value
    raise TypeError("Plugin returned %s, not a Result" % type(value).__name__)


def check_result(req):
    """The check's Result an action module receives as `result=`."""
    from smoker.server.plugins import Result

    given = req.get("checkResult") or {}
    result = Result()
    result.set_result(given)
    for key in ("lastRun", "forced"):
        if key in given:
            result.result[key] = given[key]
    return result


def load(name, attr):
    module = __import__(name, globals(), locals(), [attr], 0)
    return getattr(module, attr)


def run_module(req, worker):
    kwargs = {"result": check_result(req)} if req["op"] == "action" else {}
    plugin = load(req["module"], "Plugin")(worker, **kwargs)
    with Alarm(req["timeout"]):
        returned = plugin.run()
    return as_result(returned, plugin.result)


def run_parser(req):
    parser = load(req["parser"], "Parser")(req.get("stdout") or "", req.get("stderr") or "")
    with Alarm(req["timeout"]):
        returned = parser.parse()
    return as_result(returned, parser.result)


def parser_failure(req, message):
    from smoker.server.plugins import Result

    result = Result()
    result.set_status("ERROR")
    result.add_error(re.sub("^\n", "", (req.get("stderr") or "").strip()))
    result.add_error("Parser run failed: %s" % message)
    result.add_info(re.sub("^\n", "", (req.get("stdout") or "").strip()))
    return result


def failure(req, worker, outcome, message):
    """(outcome, result dict, summary) of a run that did not produce a valid Result."""
    if req["op"] == "parse":
        result = parser_failure(req, message)
        return outcome, result.get_result(), "Parser run failed: %s" % message
    return outcome, worker.error_result(message).get_result(), message


def execute(req, worker):
    """(outcome, result, summary, error) of a run, parse or action."""
    from smoker.server.exceptions import PluginExecutionTimeout, ValidationError

    kind = "Parser" if req["op"] == "parse" else "Plugin"
    try:
        result = run_parser(req) if req["op"] == "parse" else run_module(req, worker)
    except PluginExecutionTimeout as e:
        text = "%s execution exceeded timeout %d seconds" % (kind, req["timeout"])
        return failure(req, worker, "timeout", text) + (describe(e),)
    except BaseException as e:
        text = re.sub("^\n", "", str(e).strip()) or type(e).__name__
        return failure(req, worker, "error", text) + (describe(e),)
    try:
        return "ok", result.get_result(), None, None
    except ValidationError as e:
        text = "ValidationError: %s" % e
        return "invalid", worker.error_result(text).get_result(), text, describe(e)


def describe(e):
    import traceback

    trace = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    sys.stderr.write(trace)
    return {"type": type(e).__name__, "message": str(e), "traceback": trace}


def probe(req):
    import importlib.util

    missing = []
    origins = {}
    for name in req.get("find") or []:
        try:
            spec = importlib.util.find_spec(name)
        except Exception as e:
            missing.append({"module": name, "error": str(e) or type(e).__name__})
            continue
        if spec is None:
            missing.append({"module": name, "error": "No module named '%s'" % name})
        elif spec.has_location and spec.origin:
            origins[name] = spec.origin
    return {"python": "%d.%d.%d" % sys.version_info[:3], "missing": missing, "origins": origins}


def main():
    started = time.monotonic()
    proto, line = open_protocol()
    req = json.loads(line)
    if req.get("v") != 1:
        sys.stderr.write("smoker shim: protocol version %r not supported\n" % req.get("v"))
        os._exit(2)
    setup(req)
    reply = {"v": 1, "id": req.get("id")}
    if req.get("op") == "probe":
        reply.update(outcome="ok", **probe(req))
    else:
        worker = Worker(req)
        outcome, result, summary, error = execute(req, worker)
        reply.update(outcome=outcome, result=result, summary=summary, error=error)
    reply["elapsed"] = time.monotonic() - started
    proto.write(json.dumps(reply, default=str) + "\n")
    proto.flush()
    sys.stderr.flush()
    # Threads a plugin left behind must not keep the run alive.
    os._exit(0)
