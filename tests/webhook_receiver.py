"""A tiny webhook receiver: ``python tests/webhook_receiver.py PORT OUTFILE``.

Each POST body is appended to OUTFILE as one JSON line and answered with 200; ``GET /ping``
answers 200 so tests can wait for it; a POST to a path ending in ``/fail`` answers 500.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(outfile: Path) -> type[BaseHTTPRequestHandler]:
    """A request handler class that records POST bodies in ``outfile``."""

    class Receiver(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.endswith("/fail"):
                self._answer(500)
                return
            record = {"path": self.path, "body": json.loads(body)}
            with outfile.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    return Receiver


def main() -> None:
    port, outfile = int(sys.argv[1]), Path(sys.argv[2])
    ThreadingHTTPServer(("127.0.0.1", port), make_handler(outfile)).serve_forever()


if __name__ == "__main__":
    main()
