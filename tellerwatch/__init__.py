"""The ``tellerwatch`` command: the layer on top that joins ``vision`` (the per-frame pipeline)
and ``api`` (the central server). ``vision`` never imports ``api`` nor this package."""
