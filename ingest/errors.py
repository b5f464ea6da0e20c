"""Errors that concern a whole file rather than one row."""

from __future__ import annotations


class FormatError(ValueError):
    """The file as a whole cannot be read.

    Raised instead of rejecting every row one by one, because the fix is the same for
    all of them (another --format, another export, another encoding), and the message
    says so: it names the file, what is wrong, and what to do.
    """

    def __init__(self, file: object, problem: str, fix: str | None = None) -> None:
        self.file = str(file)
        self.problem = problem
        self.fix = fix
        message = f"{self.file}: {problem}"
        if fix:
            message += f". {fix}"
        super().__init__(message)
