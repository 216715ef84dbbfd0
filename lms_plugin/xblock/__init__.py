"""The Open edX XBlock: a training module rendered natively, graded with the framework-free cores.

Importing this package pulls in nothing; ``lms_plugin.xblock.block`` needs the ``[xblock]``
extra (XBlock, xblock-sdk) and never imports Flask or SQLAlchemy.
"""
