"""A real SMTP server standing in for the referrer's mailbox in scripts/email-smoke.

aiosmtpd with STARTTLS required, certificate from the gateway's development CA; every
message it accepts is written to DIR as NNNN.eml (renamed into place when complete).
Usage: mail-sink.py --port PORT --cert PEM --key PEM --dir DIR
"""
import argparse
import asyncio
import itertools
import pathlib
import signal
import ssl

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        path = self.folder / f"{next(self.numbers):04d}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(path)
        return "250 2.0.0 delivered to mailbox"


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--port", type=int, required=True)
    args.add_argument("--cert", required=True)
    args.add_argument("--key", required=True)
    args.add_argument("--dir", required=True)
    a = args.parse_args()
    folder = pathlib.Path(a.dir)
    folder.mkdir(parents=True, exist_ok=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(a.cert, a.key)
    controller = Controller(
        Mailbox(folder),
        hostname="127.0.0.1",
        port=a.port,
        tls_context=tls,
        require_starttls=True,
    )
    controller.start()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
