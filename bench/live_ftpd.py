#!/usr/bin/python3
"""tests/vm/ftpd.py for the live benchmark: the same server, but pyftpdlib's active-mode connect
timeout at LIVE_ACTIVE_TIMEOUT seconds (default 30) instead of the 5 s the tests use to fail fast.
Under load on the TCG guest, 5 s made PORT transfers fail ("421 Active data channel timed out")
with either helper. usage: as ftpd.py.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "vm"))
sys.modules["OpenSSL"] = None
import ftpd  # noqa: E402
from pyftpdlib import handlers  # noqa: E402


class _Absorb:  # ftpd.main() sets ActiveDTP.timeout = 5: let it set this one instead
    timeout = 5


handlers.ActiveDTP.timeout = float(os.environ.get("LIVE_ACTIVE_TIMEOUT", "30"))
ftpd.ActiveDTP = _Absorb
ftpd.main()
