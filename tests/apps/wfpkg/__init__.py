"""A wfastcgi-style handler path: WSGI_HANDLER=wfpkg.web.wsgi_app is module wfpkg, attribute web.wsgi_app
(wfastcgi moves segments into the attribute chain until the module part imports)."""


class _Web:
    @staticmethod
    def wsgi_app(environ, start_response):
        body = b"wfpkg.web.wsgi_app"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


web = _Web()
