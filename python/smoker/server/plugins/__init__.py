"""Result and BasePlugin of the original smoker, written for smokerd's Python shim.

Same behaviour and texts as the original's API, so its plugin modules run unchanged.
Other `smoker/server/plugins` directories (the original's shipped modules, a
user's own) are merged in by pkgutil.extend_path.
"""
import datetime
import pkgutil

from smoker.server.exceptions import InvalidArgument, ValidationError

__path__ = pkgutil.extend_path(__path__, __name__)

STATUSES = ("OK", "ERROR", "WARN")
LEVELS = ("info", "error", "warn")


class Result(object):
    """A plugin result: status, messages, componentResults, action."""

    validated = False

    def __init__(self):
        self.result = {
            "status": None,
            "messages": None,
            "lastRun": datetime.datetime.now().isoformat(),
            "componentResults": None,
            "action": None,
            "forced": False,
        }

    def set_status(self, status=None):
        """Sets the status; without one, the worst of the component results."""
        if status is None:
            if not self.result["componentResults"]:
                raise Exception("Can't generate overall status without component results")
            status = self._gen_component_status()
        if status not in STATUSES:
            raise InvalidArgument("Status has to be OK, ERROR or WARN")
        self.result["status"] = status

    def _gen_component_status(self, default="OK"):
        rank = {"OK": 0, "WARN": 1, "ERROR": 2}
        status = default
        for component in self.result["componentResults"].values():
            if rank.get(component["status"], -1) > rank.get(status, -1):
                status = component["status"]
        return status

    def set_forced(self, forced=True):
        self.result["forced"] = forced

    def add_info(self, msg):
        self.add_msg("info", msg)

    def add_error(self, msg):
        self.add_msg("error", msg)

    def add_warn(self, msg):
        self.add_msg("warn", msg)

    def add_msg(self, level, msg, multiline=False):
        """Adds a message (one per line unless multiline); a blank message is skipped."""
        if not self.result["messages"]:
            self.result["messages"] = {"info": [], "error": [], "warn": []}
        lines = [str(msg)] if multiline else str(msg).split("\n")
        if not str(msg).strip():
            return
        if level not in self.result["messages"]:
            raise InvalidArgument("Level has to be info, error or warn")
        self.result["messages"][level].extend(line.strip() for line in lines)

    def validate(self, force=False):
        """Raises ValidationError unless the result is well formed."""
        if force is not True and self.validated is True:
            return True
        try:
            self._validate_status(self.result["status"])
            self._validate_msg(self.result["messages"])
            self._validate_component_result(self.result["componentResults"])
            self._validate_action(self.result["action"])
        finally:
            self.validated = True

    def _validate_status(self, status):
        if status not in STATUSES:
            raise ValidationError("Result status has to be OK, ERROR or WARN, not %s" % status)

    def _validate_msg(self, msg):
        if type(msg).__name__ not in ("NoneType", "dict"):
            raise ValidationError(
                "Result message has to be a dictionary or None, not %s" % type(msg).__name__
            )
        if not msg:
            return
        for level in LEVELS:
            try:
                if not isinstance(msg[level], list):
                    raise ValidationError(
                        "Result message type %s has to be a list, not %s"
                        % (level, type(msg[level]).__name__)
                    )
                for line in msg[level]:
                    if not isinstance(line, (str, bytes)):
                        raise ValidationError(
                            "Result message type %s has to be a string, not %s"
                            % (level, type(line).__name__)
                        )
            except Exception as e:
                raise ValidationError("Can't validate message: %s" % e)

    def _validate_component_result(self, result):
        if result is None:
            return True
        if not isinstance(result, dict):
            raise ValidationError("Component result must be dictionary")
        for name, component in result.items():
            if "messages" not in component:
                raise ValidationError("Component %s doesn't have message" % name)
            self._validate_msg(component["messages"])
            if "status" not in component:
                raise ValidationError("Component %s doesn't have status" % name)
            self._validate_status(component["status"])
        return True

    def _validate_action(self, result):
        if result is None:
            return True
        if not isinstance(result, dict):
            raise ValidationError("Action result must be dictionary")
        if "messages" not in result:
            raise ValidationError("Action doesn't have message")
        self._validate_msg(result["messages"])
        if "status" not in result:
            raise ValidationError("Action doesn't have status")
        self._validate_status(result["status"])
        return True

    def set_result(self, result, validate=False):
        """Copies status, messages, componentResults and action from a dictionary."""
        for field in ("status", "messages", "componentResults", "action"):
            if field in result:
                self.result[field] = result[field]
        if validate is True:
            self.validate()

    def get_result(self, validate=True):
        """The result dictionary, validated by default."""
        if validate is True:
            self.validate()
        return self.result

    def set_action(self, action):
        if isinstance(action, dict):
            self.result["action"] = action
        else:
            self.result["action"] = action.get_result()

    def add_component(self, name, status, info=None, error=None, warn=None):
        if not self.result["componentResults"]:
            self.result["componentResults"] = {}
        self.result["componentResults"][name] = {
            "status": status,
            "messages": {"info": info or [], "error": error or [], "warn": warn or []},
        }

    def json(self):
        return self.get_result()


class BasePlugin(object):
    """Base class of Module plugins: `Plugin(worker, **kwargs).run()` returns a Result."""

    plugin = None
    result = None
    args = None

    def __init__(self, plugin, **kwargs):
        self.plugin = plugin
        self.result = Result()
        self.args = kwargs

    def get_result(self):
        return self.result.get_result()

    def execute(self, command, **kwargs):
        """smoker.util.command.execute with the plugin's Timeout unless one is given."""
        import smoker.util.command

        if "timeout" not in kwargs:
            kwargs["timeout"] = self.plugin.get_param("Timeout", default=120)
        return smoker.util.command.execute(command, **kwargs)
