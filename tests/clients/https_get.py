"""A real HTTPS client for the tests: GET URL with Python's http.client and ssl, print one JSON line.

    python3 https_get.py URL --cafile CA [--cert PEM --key PEM] [--tls 1.1|1.2|1.3]

Prints {"status": N, "version": "HTTP/1.1", "tls": "TLSv1.3", "body": "..."} or {"error": "..."}.
"""
import argparse
import http.client
import json
import ssl
import sys
from urllib.parse import urlsplit

VERSIONS = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--tls")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.cafile)
    if args.tls:
        if args.tls == "1.1":
            # Let this client offer TLS 1.1 at all (OpenSSL 3 refuses it at its default security level), so the
            # refusal the test sees is the server's.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = VERSIONS[args.tls]
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    url = urlsplit(args.url)
    try:
        connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=20)
        connection.request("GET", url.path or "/")
        response = connection.getresponse()
        body = response.read().decode("latin-1")
        result = {"status": response.status, "version": "HTTP/1.1" if response.version == 11 else str(response.version),
                  "tls": connection.sock.version(), "body": body}
        connection.close()
    except (ssl.SSLError, OSError) as e:
        result = {"error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(result) + "\n")


main()
