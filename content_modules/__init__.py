"""The training content as files: the module format, its schema, loader and validator.

Framework-free (no Flask, no SQLAlchemy) so that the Open edX XBlock can load modules too.
"""

from pathlib import Path

from .loader import Lesson, Module, ModuleFormatError, Problem, discover, load_module, validate

LIBRARY = Path(__file__).parent / "library"

__all__ = [
    "LIBRARY",
    "Lesson",
    "Module",
    "ModuleFormatError",
    "Problem",
    "discover",
    "load_module",
    "validate",
]
