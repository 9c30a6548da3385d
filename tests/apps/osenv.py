"""Echoes the worker's os.environ and sys.path as JSON; ?server=NAME answers with that Server header."""
import json
import os
import sys
from urllib.parse import parse_qs


def app(environ, start_response):
    data = json.dumps({"environ": dict(os.environ), "path": sys.path}).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    server = parse_qs(environ.get("QUERY_STRING", "")).get("server")
    if server:
        headers.append(("Server", server[0]))
    start_response("200 OK", headers)
    return [data]
