# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Summaries of a load run: hit rate, latency percentiles, backend shares."""

import math


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of values; None when empty.

    Nearest rank never invents a value that was not measured, which keeps
    p99 of a small run honest (it is the largest value below 1% of the
    tail, not an interpolation)."""
    if not values:
        return None
    v = sorted(values)
    if q <= 0:
        return v[0]
    rank = math.ceil(q / 100.0 * len(v))
    return v[min(len(v), max(1, rank)) - 1]


def load_balance(counts, nbackends=0):
    """max/mean of per-backend counts. Backends that received nothing count
    as zero when nbackends says how many there are."""
    vals = list(counts.values())
    n = max(nbackends, len(vals))
    if n == 0 or sum(vals) == 0:
        return None
    vals += [0] * (n - len(vals))
    return max(vals) / (sum(vals) / n)


class Result:
    """What the driver records for one request."""

    __slots__ = ("index", "ok", "error", "backend", "ttft", "total", "prompt_tokens",
                 "cached_tokens", "emu_ttft_ms", "start", "end")

    def __init__(self, index):
        self.index = index
        self.ok = False
        self.error = None
        self.backend = None
        self.ttft = None
        self.total = None
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.emu_ttft_ms = None
        self.start = None
        self.end = None


def summarize(results, nbackends=0, bound=None):
    """A dict of the run's figures (see kvlb-load --help, OUTPUT)."""
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    prompt = sum(r.prompt_tokens for r in ok)
    cached = sum(r.cached_tokens for r in ok)
    ttfts = [r.ttft * 1000.0 for r in ok if r.ttft is not None]
    totals = [r.total * 1000.0 for r in ok if r.total is not None]
    emu = [r.emu_ttft_ms for r in ok if r.emu_ttft_ms is not None]
    per_req = {}
    per_tok = {}
    for r in ok:
        b = r.backend or "?"
        per_req[b] = per_req.get(b, 0) + 1
        per_tok[b] = per_tok.get(b, 0) + r.prompt_tokens
    starts = [r.start for r in results if r.start is not None]
    ends = [r.end for r in ok if r.end is not None]
    wall = (max(ends) - min(starts)) if ok and starts else 0.0
    s = {
        "requests": len(results),
        "ok": len(ok),
        "failed": len(failed),
        "errors": sorted({r.error for r in failed if r.error})[:5],
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "hit_rate": cached / prompt if prompt else 0.0,
        "ttft_ms_p50": percentile(ttfts, 50),
        "ttft_ms_p99": percentile(ttfts, 99),
        "emu_ttft_ms_p50": percentile(emu, 50),
        "emu_ttft_ms_p99": percentile(emu, 99),
        "total_ms_p50": percentile(totals, 50),
        "total_ms_p99": percentile(totals, 99),
        "wall_s": wall,
        "req_per_s": len(ok) / wall if wall > 0 else 0.0,
        "backends": {b: {"requests": per_req[b], "share": per_req[b] / len(ok),
                         "prompt_tokens": per_tok[b]} for b in sorted(per_req)},
        "max_mean_load": load_balance(per_req, nbackends),
        "max_mean_tokens": load_balance(per_tok, nbackends),
    }
    if bound is not None:
        s["bound"] = bound
        br = bound["hit_rate"]
        s["pct_of_bound"] = 100.0 * s["hit_rate"] / br if br > 0 else None
    return s
