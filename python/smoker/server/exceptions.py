"""Exceptions of the original smoker server API (same names, for plugins that catch them)."""


class TemplateNotFound(Exception):
    """A template cannot be found."""


class NoTemplatesConfigured(Exception):
    """No templates are configured."""


class BasePluginTemplateNotFound(Exception):
    """The BasePlugin template is missing."""


class NoRunningPlugins(Exception):
    """No plugins are loaded."""


class ActionNotFound(Exception):
    """An action cannot be found."""


class NoActionsConfigured(Exception):
    """No actions are configured."""


class InvalidArgument(Exception):
    """An argument is invalid."""


class ValidationError(Exception):
    """A result does not validate."""


class NoSuchPlugin(Exception):
    """No plugin of that name."""


class NoPluginsFound(Exception):
    """No plugin matches."""


class PluginExecutionError(Exception):
    """A plugin could not run."""


class PluginExecutionTimeout(Exception):
    """A plugin ran past its Timeout."""


class PluginMalformedOutput(Exception):
    """A plugin's output was not understood."""


class InvalidConfiguration(Exception):
    """Configuration parameters are invalid."""


class InProgress(Exception):
    """A run is still in progress."""
