"""A real SMTP server for docward's reminder tests (aiosmtpd).

Usage: smtp_sink.py FOLDER

Listens on a free loopback port, prints "listening PORT" once ready, and saves every message it
accepts to FOLDER as NNNN.eml (envelope sender and recipients first, as X-Envelope-* lines),
and beside it NNNN.txt: the envelope, decoded From/To/Subject headers and the decoded text body.
Stops when its stdin is closed.
"""

import email
import email.policy
import itertools
import os
import socket
import sys

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder):
        self.folder = folder
        self.serial = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        stem = os.path.join(self.folder, "%04d" % next(self.serial))
        raw = envelope.original_content or envelope.content
        envelope_lines = "X-Envelope-From: %s\nX-Envelope-To: %s\n" % (
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
        )
        message = email.message_from_bytes(raw, policy=email.policy.default)
        decoded = "%sFrom: %s\nTo: %s\nSubject: %s\n\n%s" % (
            envelope_lines,
            message["from"],
            message["to"],
            message["subject"],
            message.get_content(),
        )
        self.save(stem + ".eml", envelope_lines.encode() + raw)
        # The .txt is written last: the test counts messages by it.
        self.save(stem + ".txt", decoded.encode())
        return "250 Message accepted"

    @staticmethod
    def save(path, data):
        # A file is either whole in the folder or absent.
        partial = path + ".part"
        with open(partial, "wb") as out:
            out.write(data)
        os.rename(partial, path)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    controller = Controller(SaveToFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("listening %d" % port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
