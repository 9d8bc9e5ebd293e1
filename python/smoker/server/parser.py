"""BaseParser of the original smoker: a parser turns a command's output into a Result."""
from smoker.server.plugins import Result


class BaseParser(object):
    """Base class of Parser modules: `Parser(stdout, stderr).parse()` returns a Result."""

    stdout = None
    stderr = None
    result = None

    def __init__(self, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr
        self.result = Result()

    def get_result(self):
        """The validated result dictionary."""
        return self.result.get_result()
