"""Small HTTP helpers on the standard library (no third-party packages)."""
import http.client
import socket


def request(server, path, method="GET", headers=None, timeout=60):
    """Returns (status, headers with lower-case names, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def raw_request(server, raw, timeout=60):
    """Sends bytes as they are and returns the whole raw response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(raw)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def soak(server, paths, total, expect, clients=8):
    """Sends total requests, paths in turn, from clients threads. Returns
    (failures, sampled, unsampled): the (path, status) of requests whose
    status was not expect(path); and, of the JSON reports of requests that
    ran five intervals or more, the sampling sections of those that have
    samples and of those that have none."""
    import json
    import threading
    failures, sampled, unsampled = [], [], []
    lock = threading.Lock()
    counter = iter(range(total))

    def client():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            path = paths[i % len(paths)]
            status, _, body = request(server, path)
            if status != expect(path):
                failures.append((path, status))
            elif "profile=json" in path:
                sampling = json.loads(body)["sampling"]
                if sampling["wall_ms"] >= 5 * sampling["interval_us"] / 1000:
                    (sampled if sampling["intervals"] else unsampled).append(sampling)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures, sampled, unsampled
