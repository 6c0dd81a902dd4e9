"""Helpers for Python peer code run by testing/python.ts (this folder is on PYTHONPATH).

The server address and key come from the environment (see serverEnv() in python.ts):
DH_HOST, DH_PORT and DH_PSK. The key is never part of the code text.
"""

import os

from pydeephaven import Session

PSK_AUTH_TYPE = "io.deephaven.authentication.psk.PskAuthenticationHandler"


def _address():
    return os.environ.get("DH_HOST", "127.0.0.1"), int(os.environ["DH_PORT"])


def psk_session(**kwargs) -> Session:
    """Opens a pydeephaven Session authenticated with the pre-shared key in DH_PSK."""
    host, port = _address()
    return Session(host=host, port=port, auth_type=PSK_AUTH_TYPE, auth_token=os.environ["DH_PSK"], **kwargs)


def anonymous_session(**kwargs) -> Session:
    """Opens an anonymous pydeephaven Session."""
    host, port = _address()
    return Session(host=host, port=port, auth_type="Anonymous", **kwargs)
