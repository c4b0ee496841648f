"""The ``nlu`` command line, installed as ``nlu.cli`` (``nlu/cli`` is a link to this folder)."""
