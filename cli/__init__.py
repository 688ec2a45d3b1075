"""The ``sio-chat`` command line."""
