# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workloads for kvlb's affinity benchmarks: a multi-turn conversation
generator (the default) and a replayer of Mooncake-format JSONL traces.

Both produce the same thing: a list of Request objects in arrival order.
A request carries its chat messages, its forced output length and, for the
generator, the index of the previous turn of its conversation (the next
turn is never sent before the previous one has been answered, as a real
chat client would behave).

Text is pseudo-text: lowercase words, spaces and punctuation, ASCII only,
so it never needs JSON escaping and reads like prose in a packet capture.
It is a pure function of a small integer key, so equal keys always give
equal bytes, in every run and on every machine.
"""

import hashlib
import json
import math
import random
from functools import lru_cache

# One token is four bytes of prompt text (the emulator's tokenizer rule).
BYTES_PER_TOKEN = 4
# A Mooncake hash id stands for 512 tokens.
TRACE_BLOCK_TOKENS = 512
TRACE_BLOCK_BYTES = TRACE_BLOCK_TOKENS * BYTES_PER_TOKEN

# 64 plain words; a word is picked by 6 bits of a keyed hash stream.
_WORDS = (
    "the of and to in is that for it as with was on be by at this from or "
    "an are not which but have had were all one there their they been has "
    "more when will would who so no model cache token prefix request load "
    "server node route block reply answer query system user prompt batch "
    "latency stream queue graph tensor weight"
).split()
assert len(_WORDS) == 64


def _prose(seed, nbytes):
    """nbytes of pseudo-prose drawn from a BLAKE2 stream keyed by seed."""
    out = []
    size = 0
    counter = 0
    while size < nbytes:
        digest = hashlib.blake2b(seed + counter.to_bytes(4, "little"), digest_size=63).digest()
        counter += 1
        for i in range(0, 63, 3):
            v = int.from_bytes(digest[i:i + 3], "little")
            w = _WORDS[v & 63]
            mark = (v >> 6) & 31
            if mark == 0:
                w += "."
            elif mark == 1:
                w += ","
            out.append(w)
            size += len(w) + 1
    return " ".join(out)[:nbytes]


# Body text is cut from one fixed corpus; the start of every text names its
# key, so two keys never give the same bytes even when their cuts overlap.
_CORPUS_BYTES = 1 << 18
_CORPUS = _prose(b"kvlb-corpus", _CORPUS_BYTES + 65536)


def _key_words(domain, key):
    # Key in base 64, one word per digit, at least four; the words carry no
    # punctuation and the header ends with ". ", so no header is a prefix
    # of another one.
    digits = []
    while True:
        digits.append(_WORDS[key & 63])
        key >>= 6
        if key == 0 and len(digits) >= 4:
            break
    return "%s %s. " % (domain, " ".join(digits))


def pseudo_text(domain, key, nbytes):
    """nbytes of deterministic pseudo-prose for (domain, key).

    Equal (domain, key) give equal bytes in every run; different keys give
    different bytes (their first words differ). domain is one plain word."""
    head = _key_words(domain, key)
    off = int.from_bytes(hashlib.blake2b(head.encode(), digest_size=8).digest(),
                         "little") % _CORPUS_BYTES
    parts = [head]
    size = len(head)
    while size < nbytes:
        piece = _CORPUS[off:off + min(nbytes - size, 65536)]
        parts.append(piece)
        size += len(piece)
        off = 0
    return "".join(parts)[:nbytes]


@lru_cache(maxsize=8192)
def trace_block(block_id):
    """The fixed 2048-byte text standing for Mooncake block id block_id."""
    return pseudo_text("mooncake", block_id, TRACE_BLOCK_BYTES)


class Request:
    """One request of a workload.

    arrival   seconds from the start of the workload (before time scaling)
    messages  list of (role, content) pairs, in order
    output    tokens the server is asked to generate
    after     index of the request that must be answered first, or -1
    conv      conversation id (for reports), -1 when unknown
    """

    __slots__ = ("arrival", "messages", "output", "after", "conv")

    def __init__(self, arrival, messages, output, after=-1, conv=-1):
        self.arrival = arrival
        self.messages = messages
        self.output = output
        self.after = after
        self.conv = conv

    def prompt_text(self):
        """The prompt exactly as the server tokenizes a chat request."""
        return "".join("%s: %s\n" % (r, c) for r, c in self.messages)


def load_trace(path, limit=0, time_scale=1.0):
    """Read a Mooncake-format JSONL trace into Requests.

    Each hash id becomes trace_block(id); the prompt is the concatenation,
    cut to input_length tokens (the last block of a request is usually
    partial, and equal ids still give equal leading bytes). Timestamps are
    milliseconds; they are kept, divided by time_scale. limit > 0 keeps the
    first limit requests in arrival order."""
    reqs = []
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
                ts = float(rec["timestamp"])
                ids = rec["hash_ids"]
                inlen = int(rec.get("input_length", len(ids) * TRACE_BLOCK_TOKENS))
                outlen = int(rec.get("output_length", 1))
                if not isinstance(ids, list) or not all(
                        isinstance(i, int) and i >= 0 for i in ids):
                    raise ValueError("hash_ids must be a list of non-negative integers")
                if ts < 0 or not math.isfinite(ts) or inlen < 0 or outlen < 0:
                    raise ValueError("negative or invalid timestamp or length")
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError("%s:%d: bad trace record: %s" % (path, lineno, e)) from None
            reqs.append((ts, ids, inlen, outlen))
    reqs.sort(key=lambda r: r[0])
    if limit > 0:
        reqs = reqs[:limit]
    out = []
    for ts, ids, inlen, outlen in reqs:
        out.append(TraceRequest(ts / 1000.0 / time_scale, ids, inlen, max(1, outlen)))
    return out


class TraceRequest(Request):
    """A replayed trace request; its text is built only when needed."""

    __slots__ = ("ids", "inlen")

    def __init__(self, arrival, ids, inlen, output):
        super().__init__(arrival, None, output)
        self.ids = ids
        self.inlen = inlen

    def content(self):
        text = "".join(trace_block(i) for i in self.ids)
        nbytes = self.inlen * BYTES_PER_TOKEN
        if 0 < nbytes < len(text):
            text = text[:nbytes]
        return text

    def chat(self):
        return [("user", self.content())]

    def prompt_text(self):
        return "user: %s\n" % self.content()


class GenParams:
    """Knobs of the built-in generator (defaults: a busy chat service)."""

    def __init__(self):
        self.apps = 6             # applications, each with its own system prompt
        self.sys_tokens = (600, 900, 1200, 1600, 2200, 3000)  # system prompt sizes
        self.conv_rate = 1.0      # new conversations per second (Poisson)
        self.think = 30.0         # mean seconds between a reply and the next turn
        self.turns_mean = 5.0     # conversation length: 1 + geometric
        self.turns_max = 40
        self.user_median = 120    # user message tokens: lognormal ...
        self.user_sigma = 1.0
        self.paste_p = 0.08       # ... plus sometimes a pasted document
        self.paste_tokens = (1500, 8000)
        self.out_median = 180     # reply tokens: lognormal
        self.out_sigma = 0.8
        self.out_max = 1200


def generate(nreq, seed=1, time_scale=1.0, params=None):
    """Generate nreq requests of multi-turn conversations.

    Conversations start as a Poisson process and pick an application with
    Zipf-like weights (a few apps carry most traffic). Each turn resends the
    whole history: system prompt, earlier user messages and replies, and a
    new user message. User message and reply sizes are lognormal with a
    pasted-document tail, so request sizes span three orders of magnitude."""
    p = params or GenParams()
    rng = random.Random(seed)
    sysprompts = [pseudo_text("system", a, p.sys_tokens[a % len(p.sys_tokens)] * BYTES_PER_TOKEN)
                  for a in range(p.apps)]
    weights = [1.0 / (a + 1) for a in range(p.apps)]

    def lognormal(median, sigma, lo, hi):
        return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))

    # Build whole conversations, then merge their turns by arrival time.
    pending = []
    t = 0.0
    conv = 0
    textkey = 0
    cutoff = None
    while cutoff is None or t <= cutoff:
        t += rng.expovariate(p.conv_rate)
        app = rng.choices(range(p.apps), weights)[0]
        turns = 1
        while turns < p.turns_max and rng.random() > 1.0 / p.turns_mean:
            turns += 1
        history = [("system", sysprompts[app])]
        at = t
        for k in range(turns):
            if rng.random() < p.paste_p:
                utok = rng.randint(*p.paste_tokens)
            else:
                utok = lognormal(p.user_median, p.user_sigma, 8, 4000)
            textkey += 1
            history.append(("user", pseudo_text("user", textkey, utok * BYTES_PER_TOKEN)))
            out = lognormal(p.out_median, p.out_sigma, 1, p.out_max)
            pending.append((at, conv, k, list(history), out))
            textkey += 1
            history.append(("assistant", pseudo_text("reply", textkey, out * BYTES_PER_TOKEN)))
            at += rng.expovariate(1.0 / p.think)
        conv += 1
        # Once nreq turns exist, conversations starting after the nreq-th
        # earliest turn cannot be among the first nreq: stop there.
        if cutoff is None and len(pending) >= nreq:
            cutoff = sorted(x[0] for x in pending)[nreq - 1]
    pending.sort(key=lambda x: (x[0], x[1], x[2]))
    pending = pending[:nreq]
    last = {}
    out = []
    for idx, (at, c, k, msgs, outtok) in enumerate(pending):
        out.append(Request(at / time_scale, msgs, outtok, last.get(c, -1), c))
        last[c] = idx
    return out


def messages_of(req):
    return req.chat() if isinstance(req, TraceRequest) else req.messages
