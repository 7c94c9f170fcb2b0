"""A small HTTP(S) server for the CurlHTTP tests.

Binds 127.0.0.1 on a free port, prints the port on the first line of stdout, then serves:
  /status/<code>                       responds with that status
  /headers                             echoes the request headers as JSON, sets X-Custom and Set-Cookie
  /echo                                echoes method, body and Content-Type as JSON (any method)
  /bytes/<n>                           n bytes with a Content-Length
  /stream/<n>                          n bytes without a Content-Length
  /slow/<ms>                           waits, then 200
  /flaky/<key>/<failures>/<status>     <status> for the first <failures> hits of <key>, then 200;
                                       ?retry_after=<s> adds a Retry-After header
  /hits/<key>                          how many times <key> was hit
"""

import argparse
import json
import signal
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HITS = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def send(self, status, body=b"", headers=None, length=True):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route = parts[0] if parts else ""

        if route == "status":
            code = int(parts[1])
            self.send(code, f"status {code}".encode())
        elif route == "headers":
            echoed = {name.lower(): value for name, value in self.headers.items()}
            self.send(200, json.dumps(echoed).encode(),
                      {"Content-Type": "application/json", "X-Custom": "custom-value",
                       "Set-Cookie": "session=cookie-secret"})
        elif route == "echo":
            echoed = {"method": self.command, "body": body.decode(),
                      "content_type": self.headers.get("Content-Type")}
            self.send(200, json.dumps(echoed).encode(), {"Content-Type": "application/json"})
        elif route == "bytes":
            self.send(200, b"a" * int(parts[1]))
        elif route == "stream":
            self.send(200, b"b" * int(parts[1]), {"Connection": "close"}, length=False)
            self.close_connection = True
        elif route == "slow":
            time.sleep(int(parts[1]) / 1000)
            self.send(200, b"slow")
        elif route == "flaky":
            key, failures, status = parts[1], int(parts[2]), int(parts[3])
            with LOCK:
                HITS[key] = HITS.get(key, 0) + 1
                hits = HITS[key]
            if hits <= failures:
                headers = {}
                if "retry_after" in query:
                    headers["Retry-After"] = query["retry_after"][0]
                self.send(status, b"failing", headers)
            else:
                self.send(200, b"recovered")
        elif route == "hits":
            with LOCK:
                count = HITS.get(parts[1], 0)
            self.send(200, str(count).encode())
        else:
            self.send(404, b"no such route")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


def main():
    # A parent that blocks signals passes its mask on; make SIGTERM and SIGINT work again.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca", help="require a client certificate signed by this CA")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
