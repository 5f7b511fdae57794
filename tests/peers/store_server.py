"""An aiosmtpd server that stores every message it receives, byte for byte.

Usage: store_server.py DIR [--auth USER:PASSWORD]

Binds 127.0.0.1 on a port the kernel picks, prints "READY <port>" on stdout once it accepts
connections, and serves until killed.

With --auth it offers AUTH PLAIN and LOGIN without TLS (loopback only), accepts exactly that user
and password (535 for anything else) and refuses MAIL before a successful AUTH (530).

For the n-th message (n = 1, 2, ...) it writes:

  DIR/<n>.eml   the DATA bytes exactly as received after dot-unstuffing: every line with its
                CRLF, including the last one; the terminating ".CRLF" is not included
                (aiosmtpd's envelope.original_content, decode_data=False)
  DIR/<n>.json  {"n", "mail_from", "rcpt_tos", "mail_options", "rcpt_options", "auth_login"}
                (auth_login: the user the session authenticated as, or null)

Each file is written under a temporary name and renamed into place, the .json last, so a reader
that sees <n>.json can read both files complete.
"""

import asyncio
import json
import os
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DATA_SIZE_LIMIT = 256 * 1024 * 1024  # well above the 50 MiB test message


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def login_text(login):
    if isinstance(login, bytes):
        return login.decode("utf-8", "replace")
    return login


def make_authenticator(user, password):
    """Accepts exactly USER:PASSWORD; anything else gets aiosmtpd's 535."""
    want = LoginPassword(user.encode("utf-8"), password.encode("utf-8"))

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and auth_data == want:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    return authenticator


class StoreHandler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        # One event loop thread: the counter needs no lock.
        self.count += 1
        n = self.count
        base = os.path.join(self.directory, str(n))
        write_atomically(base + ".eml", envelope.original_content)
        meta = {
            "n": n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "auth_login": login_text(getattr(session.auth_data, "login", None)),
        }
        write_atomically(base + ".json", json.dumps(meta).encode("utf-8"))
        return "250 2.0.0 stored as %d" % n


async def main(directory, auth):
    handler = StoreHandler(directory)
    loop = asyncio.get_running_loop()
    auth_options = {}
    if auth is not None:
        # Loopback only, on purpose: no TLS, so no "AUTH without TLS" warning on stderr.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        user, password = auth
        auth_options = dict(
            authenticator=make_authenticator(user, password),
            auth_require_tls=False,
            auth_required=True,
        )

    def factory():
        # A fixed hostname: the default calls getfqdn(), which can wait on DNS.
        return SMTP(
            handler,
            hostname="aiosmtpd.test",
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            decode_data=False,
            loop=loop,
            **auth_options,
        )

    server = await loop.create_server(factory, host="127.0.0.1", port=0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    auth = None
    if len(args) == 3 and args[1] == "--auth" and ":" in args[2]:
        auth = tuple(args[2].split(":", 1))
        args = args[:1]
    if len(args) != 1:
        sys.exit("usage: store_server.py DIR [--auth USER:PASSWORD]")
    asyncio.run(main(args[0], auth))
