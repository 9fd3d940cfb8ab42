#!/usr/bin/python3
"""Clients that tests/cases/52-e2e-http.sh drives through an HTTP VIP.

Each subcommand writes what it received to files the shell compares byte for
byte with the same request sent to the pod directly, and prints one JSON line
of figures. Every socket has a timeout: a client that would hang reports
"timeout" and exits 1 instead.

  conv URL NCONV NTURNS OUT [--sequential] [--turn-bytes N]
                                 multi-turn conversations, one connection a
                                 turn, interleaved turn by turn (many users)
                                 or each run to its end (an agent loop)
  httpx URL N DIR                N chat completions on one keep-alive httpx client
  send ADDR PORT PATH BODY OUT [--pause S] [--pad-header N]
                                 one POST over a raw socket: the headers, an
                                 optional pause, then the body
  raw ADDR PORT tls|h2           bytes that are not HTTP/1.1; reports how the
                                 connection ended
"""
import json
import random
import socket
import sys
import time
import urllib.parse

TIMEOUT = 10
MODEL = "kvlb-emu-model"
WORDS = ("alpha bravo cache delta epoch fjord gamma harbor index joule kernel "
         "lambda metric nginx orbit prefix quota relay shard token vector "
         "warp yield zone").split()


def words(rng, nbytes):
    out = []
    size = 0
    while size < nbytes:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


def read_response(sock):
    """Status code, headers (lower-case names) and body of one response."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before the headers ended")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        return read_response_rest(sock, body)
    if "content-length" in headers:
        want = int(headers["content-length"])
        while len(body) < want:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed %d bytes into a %d-byte body" %
                               (len(body), want))
            body += chunk
    else:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, headers, body


def read_response_rest(sock, already):
    """After a 100 Continue: the final response, starting with bytes read."""

    class Prefixed:
        def __init__(self):
            self.pending = already

        def recv(self, n):
            if self.pending:
                out, self.pending = self.pending, b""
                return out
            return sock.recv(n)

    return read_response(Prefixed())


def post(url_host, port, path, body, extra=b""):
    sock = socket.create_connection((url_host, port), timeout=TIMEOUT)
    try:
        host = url_host if ":" not in url_host else "[%s]" % url_host
        head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n" %
                (path, host, len(body))).encode() + extra + b"\r\n"
        sock.sendall(head + body)
        return read_response(sock)
    finally:
        sock.close()


def cmd_conv(url, nconv, nturns, out, sequential=False, turn_bytes=300):
    """Turn k+1 resends turn k's messages, the answer, and a new question.
    Interleaved, conversation c's next turn waits for every other's; in
    sequence, it follows its answer at once, as an agent's tool loop does."""
    host, port = split_url(url)
    convs = []
    kind = "agent" if sequential else "conversation"
    for c in range(nconv):
        rng = random.Random("%s %d" % (kind, c))
        convs.append({
            "rng": rng,
            "messages": [{
                "role": "system",
                "content": "%s %02d. %s" % (kind, c, words(rng, 400))
            }],
        })
    if sequential:
        order = [(t, c) for c in range(nconv) for t in range(nturns)]
    else:
        order = [(t, c) for t in range(nturns) for c in range(nconv)]
    with open(out, "w") as f:
        for t, c in order:
            conv = convs[c]
            conv["messages"].append({
                "role": "user",
                "content": "turn %d: %s" % (t, words(conv["rng"], turn_bytes))
            })
            body = json.dumps({
                "model": MODEL,
                "messages": conv["messages"],
                "max_tokens": 24
            }).encode()
            rec = {"conv": c, "turn": t, "bytes": len(body)}
            try:
                status, _, data = post(host, port, "/v1/chat/completions", body)
                ans = json.loads(data)
                rec.update(status=status, backend=ans.get("kvlb_backend"))
                conv["messages"].append({
                    "role": "assistant",
                    "content": ans["choices"][0]["message"]["content"]
                })
            except (OSError, EOFError, ValueError, KeyError) as e:
                rec.update(status=0, error=repr(e))
            f.write(json.dumps(rec) + "\n")
            f.flush()


def cmd_httpx(url, n, outdir):
    import httpx

    ports = []
    recs = []
    with httpx.Client(base_url=url, timeout=TIMEOUT) as cl:
        for i in range(n):
            rng = random.Random(i)
            body = json.dumps({
                "model": MODEL,
                "messages": [{
                    "role": "user",
                    "content": "httpx %d %s" % (i, words(rng, 200 + 600 * i))
                }],
                "max_tokens": 16 + 8 * i,
            }).encode()
            with open("%s/%d.req" % (outdir, i), "wb") as f:
                f.write(body)
            rec = {"i": i}
            try:
                r = cl.post("/v1/chat/completions", content=body,
                            headers={"content-type": "application/json"})
                stream = r.extensions.get("network_stream")
                if stream is not None:
                    ports.append(stream.get_extra_info("client_addr")[1])
                with open("%s/%d.body" % (outdir, i), "wb") as f:
                    f.write(r.content)
                rec.update(status=r.status_code,
                           backend=r.headers.get("x-kvlb-backend"))
            except httpx.HTTPError as e:
                rec.update(status=0, error=repr(e))
            recs.append(rec)
    print(json.dumps({"requests": recs, "local_ports": sorted(set(ports))}))


def cmd_send(addr, port, path, bodyfile, out, pause, pad):
    with open(bodyfile, "rb") as f:
        body = f.read()
    host = addr if ":" not in addr else "[%s]" % addr
    head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n" % (path, host, len(body)))
    if pad:
        head += "X-Padding: %s\r\n" % ("p" * pad)
    head = (head + "\r\n").encode()
    res = {"head_bytes": len(head), "body_bytes": len(body)}
    try:
        sock = socket.create_connection((addr, port), timeout=TIMEOUT)
        with sock:
            if pause:
                # Headers and body in separate segments, the body only
                # after the headers were acknowledged.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(head)
                time.sleep(pause)
                sock.sendall(body)
            else:
                sock.sendall(head + body)
            status, headers, data = read_response(sock)
        with open(out, "wb") as f:
            f.write(data)
        res.update(outcome="answer", status=status, backend=headers.get("x-kvlb-backend"))
    except socket.timeout:
        res.update(outcome="timeout")
    except (OSError, EOFError) as e:
        res.update(outcome="error", error=repr(e))
    print(json.dumps(res))
    return 1 if res["outcome"] == "timeout" else 0


def client_hello():
    """A TLS 1.2 ClientHello record, as a TLS client's first flight looks
    on the wire: what kvlb's parser must not take for HTTP."""
    rng = random.Random(52)
    suites = bytes.fromhex("c02bc02fc02cc030cca9cca8009c009d")
    sni = b"kvlb.test"
    ext = (b"\x00\x00" + (len(sni) + 5).to_bytes(2, "big") + (len(sni) + 3).to_bytes(2, "big")
           + b"\x00" + len(sni).to_bytes(2, "big") + sni)
    # supported_groups (x25519, P-256) and ec_point_formats, which every
    # ECDHE-capable client sends
    ext += bytes.fromhex("000a00060004001d0017" "000b00020100")
    body = (b"\x03\x03" + bytes(rng.randrange(256) for _ in range(32)) + b"\x00" +
            len(suites).to_bytes(2, "big") + suites + b"\x01\x00" +
            len(ext).to_bytes(2, "big") + ext)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def cmd_raw(addr, port, kind):
    data = client_hello() if kind == "tls" else b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    res = {"sent": len(data)}
    got = b""
    try:
        sock = socket.create_connection((addr, port), timeout=TIMEOUT)
        with sock:
            sock.sendall(data)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        res.update(outcome="eof")
    except socket.timeout:
        res.update(outcome="timeout")
    except ConnectionResetError:
        res.update(outcome="reset")
    except OSError as e:
        res.update(outcome="error", error=repr(e))
    res.update(received=len(got), first_line=got.split(b"\r\n", 1)[0].decode("latin-1"))
    print(json.dumps(res))
    return 1 if res["outcome"] == "timeout" else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "conv" and len(args) >= 4:
        sequential, turn_bytes, rest = False, 300, args[4:]
        while rest:
            if rest[0] == "--sequential":
                sequential, rest = True, rest[1:]
            elif rest[0] == "--turn-bytes" and len(rest) > 1:
                turn_bytes, rest = int(rest[1]), rest[2:]
            else:
                sys.exit("unknown option " + rest[0])
        return cmd_conv(args[0], int(args[1]), int(args[2]), args[3], sequential, turn_bytes)
    if cmd == "httpx" and len(args) == 3:
        return cmd_httpx(args[0], int(args[1]), args[2])
    if cmd == "send" and len(args) >= 5:
        pause, pad, rest = 0.0, 0, args[5:]
        while rest:
            if rest[0] == "--pause":
                pause = float(rest[1])
            elif rest[0] == "--pad-header":
                pad = int(rest[1])
            else:
                sys.exit("unknown option " + rest[0])
            rest = rest[2:]
        return cmd_send(args[0], int(args[1]), args[2], args[3], args[4], pause, pad)
    if cmd == "raw" and len(args) == 3 and args[2] in ("tls", "h2"):
        return cmd_raw(args[0], int(args[1]), args[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
