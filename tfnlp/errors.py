"""Errors raised at tfnlp's boundaries: each says what was wrong, where, and how to fix it."""


class TfnlpError(Exception):
    """Base class of tfnlp's own errors."""


class DataError(TfnlpError, ValueError):
    """Input data that cannot be used as it is (missing file, bad row, unknown label...).

    Args:
        message: what was wrong.
        path: the file concerned, if any.
        line: 1-based line number in `path`, if known.
        hint: how to fix it.
    """

    def __init__(self, message, path=None, line=None, hint=None):
        self.path, self.line, self.hint = path, line, hint
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        text = f"{where}{message}"
        if hint:
            text += f"\nHow to fix: {hint}"
        super().__init__(text)


class PresetError(TfnlpError, ValueError):
    """A model or weight preset that cannot be resolved or fails verification."""


class ConfigError(TfnlpError, ValueError):
    """An invalid option or configuration value."""
