"""Fails while being imported, as an app with a missing dependency does."""
import kwsgi_tests_no_such_dependency  # noqa: F401


def app(environ, start_response):
    start_response("200 OK", [])
    return [b"unreachable"]
