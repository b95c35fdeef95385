#!/usr/bin/python3
"""A real SMTP server on 127.0.0.1 for the notify tests: Debian's python3-aiosmtpd.

    /usr/bin/python3 tests/smtp/server.py DIR [--port N] [--tls CERT KEY] [--auth USER:PASSWORD]

Writes the port it listens on to DIR/port once it accepts connections, and each mail it
takes to DIR/mail-NNNN.eml (the bytes as received) with DIR/mail-NNNN.json (envelope: from,
to, and the login used). DIR/mode, read for every mail, makes it answer as a troubled
server does:

    ok (or no file)   250, the mail is kept
    tempfail          451 4.3.0 at DATA (try again later)
    reject            554 5.7.1 at DATA (refused for good)
    hang              never answers DATA

--tls offers STARTTLS with CERT/KEY and requires it; --auth takes AUTH PLAIN/LOGIN with
that user and password only (over TLS). Stops on SIGTERM.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()

    def mode(self):
        try:
            with open(os.path.join(self.dir, "mode")) as f:
                return f.read().strip() or "ok"
        except FileNotFoundError:
            return "ok"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "tempfail":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if mode == "reject":
            return "554 5.7.1 Message refused by policy"
        with self.lock:
            n = len([f for f in os.listdir(self.dir) if f.endswith(".eml")]) + 1
            base = os.path.join(self.dir, "mail-%04d" % n)
            auth = getattr(session, "auth_data", None)
            login = auth.login.decode() if isinstance(auth, LoginPassword) else None
            meta = {
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "login": login,
                "tls": session.ssl is not None,
            }
            with open(base + ".json.tmp", "w") as f:
                json.dump(meta, f)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(base + ".json.tmp", base + ".json")
            os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    kwargs = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)
        kwargs.update(authenticator=authenticator(user, password), auth_require_tls=bool(a.tls))
    port = a.port or free_port()
    controller = Controller(Handler(a.dir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    with open(os.path.join(a.dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(a.dir, "port.tmp"), os.path.join(a.dir, "port"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
