"""Echoes the WSGI environ as JSON (str/int/bool/tuple values), plus the request body."""
import json


def app(environ, start_response):
    out = {}
    for key, value in environ.items():
        if isinstance(value, (str, int, bool, tuple)):
            out[key] = list(value) if isinstance(value, tuple) else value
    inp = environ["wsgi.input"]
    body = inp.read()
    out["body"] = body.decode("latin-1")
    out["body_type"] = type(body).__name__
    out["wsgi.input_terminated"] = environ.get("wsgi.input_terminated")
    out["wsgi.errors.type"] = type(environ["wsgi.errors"]).__name__
    out["wsgi.input.type"] = type(inp).__name__
    out["has_file_wrapper"] = "wsgi.file_wrapper" in environ
    out["environ_is_dict"] = type(environ) is dict
    # Every str value must be a native string: only code points < 256.
    out["non_latin1_keys"] = sorted(
        k for k, v in environ.items()
        if isinstance(v, str) and any(ord(c) > 255 for c in v)
    )
    data = json.dumps(out, sort_keys=True).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
    ])
    return [data]
