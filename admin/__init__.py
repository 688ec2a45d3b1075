"""The server side of the official Socket.IO Admin UI (``@socket.io/admin-ui``).

io = sio.Server()
admin.instrument(io, auth={"username": "admin", "password": "secret"})

Needs bcrypt for its login (``pip install 'sio-chat[admin]'``), unless ``auth=False``.
"""

from __future__ import annotations

from .auth import BCRYPT_HINT, Credentials, SessionTokens, hash_password, is_bcrypt_hash
from .instrument import HOSTED_UI_ORIGIN, AdminUI, Feature, Mode, instrument, serialize_socket
from .static import UI_PREFIX, static_ui_handler

__all__ = [
    "BCRYPT_HINT",
    "HOSTED_UI_ORIGIN",
    "UI_PREFIX",
    "AdminUI",
    "Credentials",
    "Feature",
    "Mode",
    "SessionTokens",
    "hash_password",
    "instrument",
    "is_bcrypt_hash",
    "serialize_socket",
    "static_ui_handler",
]
