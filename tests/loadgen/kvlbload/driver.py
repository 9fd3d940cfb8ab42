# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The load driver: sends a workload over HTTP/1.1, streaming, and records
per request the time to first token, the total time, the prompt and cached
tokens the server reported, and which backend answered.

Plain asyncio sockets rather than an HTTP library: one new connection per
request (Connection: close), because kvlb binds a connection to a backend
for its whole life; per-request connections let every policy, kvlb's
included, place every request. Response bodies are read in bulk and only
the first event (for TTFT) and the final usage event are looked at, so one
process keeps several hundred streaming requests a second going.
"""

import asyncio
import json
import sys
from urllib.parse import urlsplit

from .stats import Result
from .workload import messages_of

DEFAULT_PATH = "/v1/chat/completions"


class Target:
    """host, port and path of one URL."""

    def __init__(self, url):
        u = urlsplit(url if "://" in url else "http://" + url)
        if u.scheme != "http":
            raise ValueError("%s: only http:// URLs are supported" % url)
        if not u.hostname:
            raise ValueError("%s: no host" % url)
        try:
            port = u.port or 80
        except ValueError:
            raise ValueError("%s: bad port" % url) from None
        self.host = u.hostname
        self.port = port
        self.path = u.path if u.path not in ("", "/") else DEFAULT_PATH
        if u.query:
            self.path += "?" + u.query
        self.hostport = ("[%s]" % self.host if ":" in self.host else self.host) + \
            ("" if port == 80 else ":%d" % port)

    def __str__(self):
        return "http://%s%s" % (self.hostport, self.path)


def request_body(model, req, max_output=0):
    """The JSON body. model and messages come first so that the body's first
    bytes are the conversation prefix (what a body-prefix hash sees); the
    fields that vary per request (lengths) come after the messages."""
    out = req.output if max_output <= 0 else min(req.output, max_output)
    msgs = [{"role": r, "content": c} for r, c in messages_of(req)]
    return ('{"model":%s,"messages":%s,"stream":true,"stream_options":{"include_usage":true},'
            '"max_tokens":%d,"kvlb_output_tokens":%d}' % (
                json.dumps(model), json.dumps(msgs, separators=(",", ":")), out, out)).encode()


def dechunk(data):
    """Decode a chunked transfer-encoded body; raises ValueError."""
    out = []
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise ValueError("truncated chunked body")
        size_s = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            raise ValueError("bad chunk size %r" % size_s[:20]) from None
        if size == 0:
            return b"".join(out)
        start = eol + 2
        if start + size + 2 > len(data):
            raise ValueError("truncated chunk")
        out.append(data[start:start + size])
        pos = start + size + 2


def parse_usage(body):
    """(prompt_tokens, cached_tokens, saw_done) from an SSE body."""
    saw_done = False
    for line in reversed(body.split(b"\n")):
        line = line.strip()
        if line == b"data: [DONE]":
            saw_done = True
            continue
        if not line.startswith(b"data:") or b'"usage"' not in line:
            continue
        try:
            ev = json.loads(line[5:])
        except ValueError:
            continue
        usage = ev.get("usage") if isinstance(ev, dict) else None
        if not isinstance(usage, dict):
            continue
        prompt = usage.get("prompt_tokens") or 0
        details = usage.get("prompt_tokens_details") or {}
        cached = details.get("cached_tokens") or 0 if isinstance(details, dict) else 0
        return int(prompt), int(cached), saw_done
    return None, None, saw_done


async def one_request(target, body, res, timeout):
    """Send one request and fill res. Never raises."""
    loop = asyncio.get_running_loop()
    writer = None
    res.start = loop.time()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(target.host, target.port,
                                                           limit=1 << 20)
            head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Accept: text/event-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                    % (target.path, target.hostport, len(body))).encode()
            writer.write(head + body)
            await writer.drain()
            raw = await reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise ValueError("bad status line %r" % lines[0][:60])
            status = int(parts[1])
            hdrs = {}
            for ln in lines[1:]:
                if ":" in ln:
                    k, v = ln.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
            res.backend = hdrs.get("x-kvlb-backend")
            if "x-kvlb-ttft-ms" in hdrs:
                try:
                    res.emu_ttft_ms = float(hdrs["x-kvlb-ttft-ms"])
                except ValueError:
                    pass
            chunks = []
            seen = b""
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                if res.ttft is None:
                    # The first event may straddle two reads: look at the
                    # join of the tail of the last read and this one.
                    if b"data:" in seen[-8:] + data:
                        res.ttft = loop.time() - res.start
                    seen = data
                chunks.append(data)
            body_in = b"".join(chunks)
            if "chunked" in hdrs.get("transfer-encoding", "").lower():
                body_in = dechunk(body_in)
            if status != 200:
                raise ValueError("HTTP %d: %s" % (status, body_in[:80].decode("latin-1")))
            prompt, cached, done = parse_usage(body_in)
            if prompt is None:
                raise ValueError("no usage in the response")
            if not done:
                raise ValueError("stream ended without [DONE]")
            res.prompt_tokens, res.cached_tokens = prompt, cached
            res.end = loop.time()
            res.total = res.end - res.start
            res.ok = True
    except TimeoutError:
        res.error = "timeout after %gs" % timeout
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        res.error = "%s: %s" % (type(e).__name__, e)
    finally:
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass
    return res


async def run(reqs, targets, model="kvlb-emu", concurrency=256, timeout=300.0,
              max_output=0, progress=10.0, label=""):
    """Send reqs (arrival order) to targets; more than one target means
    client-side round robin over them. Returns the list of Results."""
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)
    results = [Result(i) for i in range(len(reqs))]
    done = [asyncio.Event() for _ in reqs]
    rr = [0]
    counts = {"sent": 0, "done": 0, "failed": 0}
    t0 = loop.time() + 0.05

    async def task(i, req):
        try:
            if req.after >= 0:
                await done[req.after].wait()
            async with sem:
                t = targets[rr[0] % len(targets)]
                rr[0] += 1
                counts["sent"] += 1
                body = request_body(model, req, max_output)
                await one_request(t, body, results[i], timeout)
            counts["done"] += 1
            if not results[i].ok:
                counts["failed"] += 1
        finally:
            done[i].set()

    async def report():
        while True:
            await asyncio.sleep(progress)
            print("kvlb-load%s: %.0fs: %d/%d sent, %d answered, %d failed" % (
                " " + label if label else "", loop.time() - t0, counts["sent"], len(reqs),
                counts["done"], counts["failed"]), file=sys.stderr, flush=True)

    reporter = asyncio.ensure_future(report()) if progress > 0 else None
    tasks = []
    try:
        for i, req in enumerate(reqs):
            delay = t0 + req.arrival - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(task(i, req)))
        await asyncio.gather(*tasks)
    finally:
        if reporter:
            reporter.cancel()
        for t in tasks:
            t.cancel()
    return results


def run_sync(*args, **kw):
    return asyncio.run(run(*args, **kw))
