"""Starts the reports site under IIS: HttpPlatformHandler passes the port."""
import os
import sys

from waitress import serve

from reports.web import (
    wsgi_app as application,  # the Flask app's WSGI callable
)

if __name__ == "__main__":
    port = int(os.environ.get("SERVER_PORT", "8080"))
    print("serving on", port, file=sys.stderr)
    serve(
        application,
        host="127.0.0.1",
        port=port,
        threads=8,
        url_prefix="/reports",
    )
