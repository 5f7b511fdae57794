"""An aiosmtpd server that stores every message it receives, byte for byte.

Usage: store_server.py DIR

Binds 127.0.0.1 on a port the kernel picks, prints "READY <port>" on stdout once it accepts
connections, and serves until killed. For the n-th message (n = 1, 2, ...) it writes:

  DIR/<n>.eml   the DATA bytes exactly as received after dot-unstuffing: every line with its
                CRLF, including the last one; the terminating ".CRLF" is not included
                (aiosmtpd's envelope.original_content, decode_data=False)
  DIR/<n>.json  {"n", "mail_from", "rcpt_tos", "mail_options", "rcpt_options"}

Each file is written under a temporary name and renamed into place, the .json last, so a reader
that sees <n>.json can read both files complete.
"""

import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP

DATA_SIZE_LIMIT = 256 * 1024 * 1024  # well above the 50 MiB test message


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


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
        }
        write_atomically(base + ".json", json.dumps(meta).encode("utf-8"))
        return "250 2.0.0 stored as %d" % n


async def main(directory):
    handler = StoreHandler(directory)
    loop = asyncio.get_running_loop()

    def factory():
        # A fixed hostname: the default calls getfqdn(), which can wait on DNS.
        return SMTP(
            handler,
            hostname="aiosmtpd.test",
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            decode_data=False,
            loop=loop,
        )

    server = await loop.create_server(factory, host="127.0.0.1", port=0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: store_server.py DIR")
    asyncio.run(main(sys.argv[1]))
