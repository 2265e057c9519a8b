"""A bounded, paced HTTP load for deploy/e2e: COUNT GET requests of URL at RATE a second, over
keep-alive connections from CONNECTIONS threads, each request within 10 s. Prints how many
completed, failed (an error, or no answer) and answered other than 200, and exits 1 unless all
completed with 200.

Usage: python3 e2e-load.py COUNT RATE CONNECTIONS URL
"""

import http.client
import sys
import threading
import time
import urllib.parse


def main():
    count, rate, connections, url = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    target = urllib.parse.urlsplit(url)
    start = time.monotonic()
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "failed": 0, "other": 0}

    def worker():
        connection = None
        while True:
            with lock:
                index = state["next"]
                if index >= count:
                    return
                state["next"] = index + 1
            # Request `index` is due at `index / rate` seconds after the start.
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                connection.request("GET", target.path or "/")
                response = connection.getresponse()
                response.read()
                outcome = "ok" if response.status == 200 else "other"
                if response.getheader("connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                outcome = "failed"
                connection = None
            with lock:
                state[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    print(f"{count} requests in {elapsed:.1f} s: {state['ok']} answered 200, {state['other']} answered otherwise, "
          f"{state['failed']} failed")
    sys.exit(0 if state["ok"] == count else 1)


main()
