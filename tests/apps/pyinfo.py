"""Reports which Python interpreter the worker embeds."""
import json
import os
import sys


def app(environ, start_response):
    data = json.dumps({
        "version": sys.version,
        "version_info": list(sys.version_info[:3]),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "pid": os.getpid(),
    }).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
