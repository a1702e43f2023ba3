"""Domain errors. The CLI turns these into a one-line message and a non-zero exit code."""


class VidlabError(Exception):
    """Base class for errors a user can act on (bad params, bad data, refused paths)."""


class ParamsError(VidlabError):
    """A value in params.yaml is missing, unknown or out of range."""


class DataError(VidlabError):
    """Input data cannot be used as given (bad CSV, unreadable folder, refused path)."""
