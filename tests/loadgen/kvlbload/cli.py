# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Command line of kvlb-load."""

import argparse
import json
import sys
import time

from . import bound as boundmod
from . import driver, stats, workload

DESCRIPTION = """\
Send an inference workload to an OpenAI-compatible endpoint (kvlb's VIP, a
proxy, or a list of model servers) and report how well it was balanced:
the share of prompt tokens served from the servers' prefix caches, time to
first token, throughput and how evenly the backends were loaded.

The workload is either the built-in generator of multi-turn conversations
(the default) or a replay of a Mooncake-format JSONL trace (--trace).
Every request is a streaming POST to /v1/chat/completions with
stream_options.include_usage, sent on its own connection at its arrival
time (open loop, at most --concurrency in flight)."""

EPILOG = """\
workloads:
  built-in   Conversations start as a Poisson process (--conv-rate a second)
             in one of six applications, each with its own system prompt
             (600 to 3000 tokens; a few apps carry most of the traffic).
             Each turn resends the history (system prompt, earlier messages
             and replies) plus a new user message; message and reply sizes
             are lognormal with a tail of pasted documents. A turn is sent
             only after the previous turn of its conversation was answered.
             The sequence is a pure function of --seed.
  --trace    Mooncake format, one JSON object a line: timestamp (ms),
             input_length, output_length, hash_ids. Each hash id (512
             tokens) becomes a fixed 2048-byte pseudo-text block, so equal
             ids give equal bytes; the prompt is the blocks' concatenation
             cut to input_length tokens. The first --requests requests in
             timestamp order are replayed; arrival times are kept, divided
             by --time-scale.
  output_length (or the generated reply size) is sent both as max_tokens and
  as kvlb_output_tokens, the emulator's field that forces the reply length.

pooled-cache bound:
  With --pool-blocks N the workload is also run, in arrival order, through
  one simulated LRU prefix cache of N blocks of --block-size tokens (4 bytes
  a token, full blocks only, blocks named by a hash chain over the prompt,
  longest cached prefix counts), the model kvlb-emu implements. Give N as
  the sum of all backends' cache capacity: no router over those backends
  does better than this single pooled cache, and the hit rate is also shown
  as a percentage of it.

output:
  hit rate      cached tokens / prompt tokens, both summed over the answered
                requests as reported in each response's usage
  TTFT          from the start of the connection to the first streamed
                event, p50 and p99 (nearest rank), milliseconds
  req/s         answered requests / (last answer - first send)
  backends      share of requests per backend (header x-kvlb-backend) and
                max/mean load: the busiest backend's request count over the
                mean over --nbackends backends (those that got nothing count)
  A progress line goes to stderr every --progress seconds. --json prints one
  JSON object instead of the text report.

exit status:
  0 when every request was answered, 1 when some failed, 2 on bad usage or
  a bad trace file.

examples:
  kvlb-load --url http://192.0.2.10/ --requests 2000 --time-scale 20 \\
      --pool-blocks 32768 --nbackends 4
  kvlb-load --backends http://203.0.113.11:8000,http://203.0.113.12:8000 \\
      --trace conversation_trace.jsonl --requests 3000 --time-scale 20
  kvlb-load --trace conversation_trace.jsonl --requests 3000 --bound-only \\
      --pool-blocks 131072
"""


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % s) from None
    if v <= 0:
        raise argparse.ArgumentTypeError("must be positive: %r" % s)
    return v


def nonneg_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % s) from None
    if v < 0:
        raise argparse.ArgumentTypeError("must not be negative: %r" % s)
    return v


def positive_float(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % s) from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number: %r" % s)
    return v


def nonneg_float(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % s) from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError("must be zero or positive: %r" % s)
    return v


def parser():
    p = argparse.ArgumentParser(
        prog="kvlb-load", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tgt = p.add_mutually_exclusive_group()
    tgt.add_argument("--url", metavar="URL",
                     help="send every request to URL (path defaults to %s)" % driver.DEFAULT_PATH)
    tgt.add_argument("--backends", metavar="URL[,URL...]",
                     help="client-side round robin: request i goes to backend i mod n")
    p.add_argument("--trace", metavar="PATH", help="replay this Mooncake-format JSONL trace")
    p.add_argument("--requests", metavar="N", type=positive_int, default=2000,
                   help="how many requests to send (default 2000)")
    p.add_argument("--time-scale", metavar="X", type=positive_float, default=1.0,
                   help="divide every arrival time by X (default 1: real time)")
    p.add_argument("--concurrency", metavar="N", type=positive_int, default=256,
                   help="at most N requests in flight (default 256)")
    p.add_argument("--seed", metavar="N", type=nonneg_int, default=1,
                   help="seed of the built-in generator (default 1)")
    p.add_argument("--conv-rate", metavar="R", type=positive_float, default=1.0,
                   help="built-in generator: new conversations a second, before "
                        "--time-scale (default 1)")
    p.add_argument("--model", metavar="NAME", default="kvlb-emu",
                   help="the request's model field (default kvlb-emu)")
    p.add_argument("--max-output", metavar="N", type=nonneg_int, default=0,
                   help="cap every reply at N tokens (default 0: no cap)")
    p.add_argument("--pool-blocks", metavar="N", type=nonneg_int, default=0,
                   help="compute the pooled-cache bound for N cache blocks in all "
                        "(default 0: no bound)")
    p.add_argument("--block-size", metavar="TOKENS", type=positive_int, default=16,
                   help="cache block size of the servers, for the bound (default 16)")
    p.add_argument("--nbackends", metavar="N", type=nonneg_int, default=0,
                   help="number of backends behind --url, for max/mean load "
                        "(default: those that answered)")
    p.add_argument("--timeout", metavar="S", type=positive_float, default=300.0,
                   help="give up on a request after S seconds (default 300)")
    p.add_argument("--progress", metavar="S", type=nonneg_float, default=10.0,
                   help="progress line on stderr every S seconds, 0 for none (default 10)")
    p.add_argument("--label", metavar="NAME", default="",
                   help="name of this run in the report")
    p.add_argument("--prefix-stats", metavar="N[,N...]", default="",
                   help="with --bound-only: how many distinct request bodies there are "
                        "when cut to N bytes, and the largest group's share (what a "
                        "hash of the first N body bytes can tell apart)")
    p.add_argument("--bound-only", action="store_true",
                   help="send nothing: describe the workload and print the bound")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def build_workload(a):
    if a.trace:
        return workload.load_trace(a.trace, a.requests, a.time_scale)
    params = workload.GenParams()
    params.conv_rate = a.conv_rate
    return workload.generate(a.requests, a.seed, a.time_scale, params)


def describe(reqs):
    texts_tokens = 0
    for r in reqs:
        texts_tokens += boundmod.prompt_tokens(r.prompt_text())
    span = reqs[-1].arrival if reqs else 0.0
    return {"requests": len(reqs), "prompt_tokens": texts_tokens, "span_s": span,
            "offered_req_per_s": len(reqs) / span if span > 0 else None}


def prefix_stats(reqs, sizes, model, max_output):
    """For each N: distinct body prefixes of N bytes and the top group's share."""
    counts = {n: {} for n in sizes}
    for r in reqs:
        body = driver.request_body(model, r, max_output)
        for n in sizes:
            k = body[:n]
            counts[n][k] = counts[n].get(k, 0) + 1
    return {str(n): {"distinct": len(c), "top_share": max(c.values()) / len(reqs)}
            for n, c in counts.items()}


def parse_sizes(s):
    try:
        sizes = [int(x) for x in s.split(",") if x]
    except ValueError:
        raise ValueError("--prefix-stats: not a list of integers: %r" % s) from None
    if any(n <= 0 for n in sizes):
        raise ValueError("--prefix-stats: sizes must be positive")
    return sizes


def fmt_ms(v):
    return "-" if v is None else ("%.0f" % v if v >= 100 else "%.1f" % v)


def text_report(label, s, wl):
    out = []
    name = label or "run"
    out.append("%s: %d requests (%d answered, %d failed) in %.1f s, %.1f req/s" % (
        name, s["requests"], s["ok"], s["failed"], s["wall_s"], s["req_per_s"]))
    line = "  hit rate   %.1f%% of %d prompt tokens" % (100 * s["hit_rate"], s["prompt_tokens"])
    if "bound" in s:
        line += "; pooled bound %.1f%% -> %.1f%% of bound" % (
            100 * s["bound"]["hit_rate"], s["pct_of_bound"] or 0.0)
    out.append(line)
    out.append("  TTFT       p50 %s ms, p99 %s ms (emulator's own: p50 %s, p99 %s)" % (
        fmt_ms(s["ttft_ms_p50"]), fmt_ms(s["ttft_ms_p99"]),
        fmt_ms(s["emu_ttft_ms_p50"]), fmt_ms(s["emu_ttft_ms_p99"])))
    out.append("  total      p50 %s ms, p99 %s ms" % (fmt_ms(s["total_ms_p50"]),
                                                      fmt_ms(s["total_ms_p99"])))
    shares = ", ".join("%s %.1f%%" % (b, 100 * v["share"]) for b, v in s["backends"].items())
    mm = s["max_mean_load"]
    out.append("  backends   %s; max/mean %s" % (shares or "-",
                                                  "-" if mm is None else "%.2f" % mm))
    out.append("  workload   %s, offered %.1f req/s over %.1f s" % (
        wl["kind"], wl.get("offered_req_per_s") or 0.0, wl["span_s"]))
    for e in s["errors"]:
        out.append("  error      %s" % e)
    return "\n".join(out)


def main(argv=None):
    p = parser()
    a = p.parse_args(argv)
    if not a.bound_only and not (a.url or a.backends):
        p.error("one of --url, --backends or --bound-only is needed")
    try:
        targets = []
        if a.url:
            targets = [driver.Target(a.url)]
        elif a.backends:
            targets = [driver.Target(u) for u in a.backends.split(",") if u]
            if not targets:
                raise ValueError("--backends: empty list")
        sizes = parse_sizes(a.prefix_stats)
        reqs = build_workload(a)
    except (OSError, ValueError) as e:
        print("kvlb-load: %s" % e, file=sys.stderr)
        return 2
    if not reqs:
        print("kvlb-load: the workload is empty", file=sys.stderr)
        return 2
    wl = describe(reqs)
    wl["kind"] = ("trace %s" % a.trace) if a.trace else ("built-in, seed %d" % a.seed)
    bound = None
    if a.pool_blocks > 0:
        bound = boundmod.pooled_bound((r.prompt_text() for r in reqs), a.pool_blocks,
                                      a.block_size)
    if a.bound_only:
        out = {"workload": wl, "bound": bound}
        if sizes:
            out["prefixes"] = prefix_stats(reqs, sizes, a.model, a.max_output)
        if a.json:
            print(json.dumps(out, indent=1))
        else:
            print("workload: %s: %d requests, %d prompt tokens, %.1f s, %.1f req/s offered" % (
                wl["kind"], wl["requests"], wl["prompt_tokens"], wl["span_s"],
                wl["offered_req_per_s"] or 0.0))
            if bound:
                print("pooled bound: %.2f%% of prompt tokens (%d blocks of %d tokens)" % (
                    100 * bound["hit_rate"], bound["capacity_blocks"], bound["block_size"]))
            for n, v in out.get("prefixes", {}).items():
                print("first %s body bytes: %d distinct, the largest group %.1f%% of requests" % (
                    n, v["distinct"], 100 * v["top_share"]))
        return 0
    t = time.time()
    try:
        results = driver.run_sync(reqs, targets, a.model, a.concurrency, a.timeout,
                                  a.max_output, a.progress, a.label)
    except KeyboardInterrupt:
        print("kvlb-load: interrupted", file=sys.stderr)
        return 130
    nb = a.nbackends or (len(targets) if len(targets) > 1 else 0)
    s = stats.summarize(results, nb, bound)
    s["label"] = a.label
    s["workload"] = wl
    s["elapsed_s"] = time.time() - t
    if a.json:
        print(json.dumps(s, indent=1))
    else:
        print(text_report(a.label, s, wl))
    return 0 if s["failed"] == 0 else 1
