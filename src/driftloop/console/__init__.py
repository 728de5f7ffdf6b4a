"""The console: one web page per part of the loop, live, over the same stores as the CLI.

Pages are rendered on the server (HTML and SVG charts, no script from elsewhere); a small
script re-fetches the page body every few seconds, so each page is live and every URL can be
shared. Everything is read through the backend contracts and the summaries the loop writes
(events, the metric store, run summaries), never raw capture, so it works on either backend.
"""

from driftloop.console.app import create_app
from driftloop.console.server import run_console

__all__ = ["create_app", "run_console"]
