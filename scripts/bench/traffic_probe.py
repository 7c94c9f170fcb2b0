"""Steady loopback traffic against an environment's published ports while it is deployed and rolled back.

usage: traffic_probe.py OUT.json URL... (runs until the file OUT.json.stop exists; OUT.json.ready appears once it sends)

Each client thread sends one GET after another on its own keep-alive connection. A GET on a kept-alive connection that
the server closed while idle is sent again once on a new connection, as HTTP clients do (and counted). Every request is
recorded: when it started (monotonic seconds), how long it took, whether it answered 200, and whether it reconnected.
OUT.json gets the records; scripts/bench-zero-downtime.sh joins them with the times of the switches.
"""

import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

CLIENTS = int(os.environ.get("PROBE_CLIENTS", "4"))


def client(urls, index, stop, records, lock):
    connections = {}
    mine = []
    while not stop.is_set():
        url = urls[index % len(urls)]
        index += 1
        parts = urllib.parse.urlsplit(url)
        key = parts.netloc
        started = time.monotonic()
        ok, detail, reconnected = False, "", False
        for attempt in range(2):
            connection = connections.get(key)
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                connections[key] = connection
            try:
                connection.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                detail = "" if ok else f"{response.status}"
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connections.pop(key, None)
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                connection.close()
                connections.pop(key, None)
                detail = f"{type(error).__name__}: {error}"
                # A kept-alive connection the server closed while it was idle: like curl, browsers and Go's client,
                # a GET is sent again once on a new connection (RFC 9112, 9.3.1). A new connection is not retried.
                if not reused:
                    break
                reconnected = True
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connections.pop(key, None)
                detail = f"{type(error).__name__}: {error}"
                break
        mine.append([started, time.monotonic() - started, ok, url if not ok else "", detail, reconnected])
    with lock:
        records.extend(mine)


def main():
    out, urls = sys.argv[1], sys.argv[2:]
    stop, lock, records = threading.Event(), threading.Lock(), []
    threads = [threading.Thread(target=client, args=(urls, i, stop, records, lock)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    open(out + ".ready", "w").close()
    while not os.path.exists(out + ".stop"):
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    with open(out, "w") as handle:
        json.dump(sorted(records), handle)


if __name__ == "__main__":
    main()
