"""Cleared to Post's application package: the foundation (``core``) and the edges.

Nothing is imported here on purpose, so that a feature package importing
``lms_plugin.core`` never drags in the application, the LTI tool or the CLI.
"""
