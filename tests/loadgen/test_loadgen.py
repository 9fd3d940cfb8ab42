# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Unit tests of kvlb-load: replayer, generator, pooled bound, driver
parsing and statistics. Run by tests/cases/35-loadgen, which prints one
PASS/FAIL line per test."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)

from kvlbload import bound, driver, stats, workload  # noqa: E402

KVLB_LOAD = os.path.join(HERE, "kvlb-load")


def write_trace(records):
    f = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    for r in records:
        f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    f.close()
    return f.name


class Replayer(unittest.TestCase):
    def setUp(self):
        self.path = write_trace([
            {"timestamp": 0, "input_length": 1536, "output_length": 7, "hash_ids": [0, 1, 2]},
            {"timestamp": 250, "input_length": 1536, "output_length": 3, "hash_ids": [0, 1, 3]},
            {"timestamp": 100, "input_length": 700, "output_length": 1, "hash_ids": [0, 4]},
        ])

    def tearDown(self):
        os.unlink(self.path)

    def test_equal_ids_equal_bytes(self):
        a, b, c = (r.content() for r in sorted(workload.load_trace(self.path),
                                                 key=lambda r: r.ids))
        blk = workload.TRACE_BLOCK_BYTES
        # [0,1,2] and [0,1,3] share ids 0 and 1: their first two blocks match
        self.assertEqual(a[:2 * blk], b[:2 * blk])
        self.assertEqual(a[:blk], c[:blk])
        # and the block of id 0 is the same wherever it appears
        self.assertEqual(a[:blk], workload.trace_block(0))
        self.assertEqual(a[blk:2 * blk], workload.trace_block(1))

    def test_different_ids_different_bytes(self):
        blocks = [workload.trace_block(i) for i in range(2000)]
        self.assertEqual(len(set(blocks)), len(blocks))
        # a block differs from every other one from its first bytes on
        heads = {b[:64] for b in blocks}
        self.assertEqual(len(heads), len(blocks))

    def test_block_is_text_and_stable(self):
        for i in (0, 1, 63, 64, 4095, 4096, 182789, 10 ** 9):
            b = workload.trace_block(i)
            self.assertEqual(len(b), workload.TRACE_BLOCK_BYTES)
            self.assertTrue(all(ch.islower() or ch in " .," for ch in b), b[:80])
            self.assertEqual(b, workload.pseudo_text("mooncake", i, workload.TRACE_BLOCK_BYTES))

    def test_arrival_order_lengths_and_scaling(self):
        reqs = workload.load_trace(self.path, time_scale=10)
        self.assertEqual([r.ids for r in reqs], [[0, 1, 2], [0, 4], [0, 1, 3]])
        self.assertEqual([r.arrival for r in reqs], [0.0, 0.01, 0.025])
        # input_length cuts the last block: 700 tokens = 2800 bytes
        self.assertEqual(len(reqs[1].content()), 700 * workload.BYTES_PER_TOKEN)
        self.assertEqual(reqs[0].output, 7)
        self.assertEqual(len(workload.load_trace(self.path, limit=2)), 2)

    def test_body_round_trips(self):
        req = workload.load_trace(self.path)[0]
        body = json.loads(driver.request_body("m", req))
        self.assertEqual(body["messages"], [{"role": "user", "content": req.content()}])
        self.assertEqual(body["kvlb_output_tokens"], 7)
        self.assertEqual(body["max_tokens"], 7)
        self.assertTrue(body["stream"])
        self.assertTrue(body["stream_options"]["include_usage"])
        raw = driver.request_body("m", req)
        self.assertTrue(raw.startswith(b'{"model":"m","messages":[{"role":"user","content":"'))

    def test_bad_records_name_their_line(self):
        for bad in ('{"timestamp": 0, "hash_ids": [1, -2]}', '{"hash_ids": [1]}',
                    'not json', '{"timestamp": 0, "hash_ids": "abc"}',
                    '{"timestamp": -5, "hash_ids": [1]}'):
            p = write_trace([{"timestamp": 0, "hash_ids": [1]}, bad])
            try:
                with self.assertRaisesRegex(ValueError, ":2: bad trace record"):
                    workload.load_trace(p)
            finally:
                os.unlink(p)


class PrefixStats(unittest.TestCase):
    def test_shared_first_block_is_one_key(self):
        from kvlbload import cli
        p = write_trace([
            {"timestamp": 0, "input_length": 1024, "hash_ids": [0, 1]},
            {"timestamp": 1, "input_length": 1024, "hash_ids": [0, 2]},
            {"timestamp": 2, "input_length": 1536, "hash_ids": [0, 1, 5]},
        ])
        try:
            reqs = workload.load_trace(p)
        finally:
            os.unlink(p)
        st = cli.prefix_stats(reqs, [1024, 4096], "m", 0)
        # 1 KB is inside block 0: one key for all; 4 KB reaches block 1 or 2
        self.assertEqual(st["1024"], {"distinct": 1, "top_share": 1.0})
        self.assertEqual(st["4096"]["distinct"], 2)
        self.assertAlmostEqual(st["4096"]["top_share"], 2 / 3)


class Generator(unittest.TestCase):
    def test_deterministic_and_multi_turn(self):
        a = workload.generate(400, seed=3)
        b = workload.generate(400, seed=3)
        self.assertEqual([r.prompt_text() for r in a], [r.prompt_text() for r in b])
        self.assertNotEqual([r.prompt_text() for r in a],
                            [r.prompt_text() for r in workload.generate(400, seed=4)])
        self.assertEqual(len(a), 400)
        arr = [r.arrival for r in a]
        self.assertEqual(arr, sorted(arr))
        follow = [r for r in a if r.after >= 0]
        self.assertTrue(follow, "no conversation has a second turn")
        for r in follow:
            prev = a[r.after]
            self.assertEqual(prev.conv, r.conv)
            self.assertLess(prev.arrival, r.arrival)
            # the history grows: the previous turn is a prefix of this one
            self.assertTrue(r.prompt_text().startswith(prev.prompt_text()))
        apps = {r.messages[0][1][:40] for r in a}
        self.assertGreater(len(apps), 1)
        self.assertLessEqual(len(apps), workload.GenParams().apps)

    def test_heavy_tailed_sizes(self):
        sizes = sorted(len(r.prompt_text()) for r in workload.generate(1000, seed=1))
        self.assertGreater(sizes[-1], 8 * sizes[len(sizes) // 2])


class Bound(unittest.TestCase):
    # Hand-made trace with 1-token (4-byte) blocks, so keys are easy to follow:
    # A=AAAA, B=BBBB, ... ; a prompt "AAAABBBB" has chain blocks [A, AB].
    PROMPTS = ["AAAABBBB", "AAAACCCC", "AAAABBBBDDDD", "AAAACCCC"]

    def test_hand_computed_capacity_3(self):
        # cap 3. r1: miss A,AB (2 tokens, 0 cached); LRU AB,A (head first).
        # r2: hit A; insert AC (3 used); LRU AB,AC,A; 1 of 2 cached.
        # r3: hit A,AB; ABD needs room: evict AC; LRU ABD,AB,A; 2 of 3.
        # r4: hit A, AC was evicted; 1 of 2. Total 4 of 9.
        b = bound.pooled_bound(self.PROMPTS, 3, 1)
        self.assertEqual((b["cached_tokens"], b["prompt_tokens"]), (4, 9))
        self.assertAlmostEqual(b["hit_rate"], 4 / 9)

    def test_hand_computed_capacity_4(self):
        # cap 4: nothing is evicted before r4, which now hits A,AC: 5 of 9.
        b = bound.pooled_bound(self.PROMPTS, 4, 1)
        self.assertEqual((b["cached_tokens"], b["prompt_tokens"]), (5, 9))

    def test_tail_evicted_before_head(self):
        # cap 2: r1 leaves LRU [AB, A]; "BBBB" evicts AB, not A, so "AAAAC..."
        # still hits A.
        b = bound.pooled_bound(["AAAABBBB", "BBBB", "AAAACCCC"], 2, 1)
        self.assertEqual(b["cached_tokens"], 1)

    def test_partial_tokens_and_blocks(self):
        self.assertEqual(bound.prompt_tokens("AAAAB"), 2)
        self.assertEqual(len(bound.block_chain("AAAAB", 1)), 2)
        # 9 tokens, block of 4 tokens: 2 full blocks
        self.assertEqual(len(bound.block_chain("x" * 33, 4)), 2)
        # the chain: equal prefixes give equal keys, then they differ for good
        k1 = bound.block_chain("AAAABBBBCCCC", 1)
        k2 = bound.block_chain("AAAAXXXXCCCC", 1)
        self.assertEqual(k1[0], k2[0])
        self.assertNotEqual(k1[1], k2[1])
        self.assertNotEqual(k1[2], k2[2])

    def test_on_replayed_trace(self):
        # three requests of whole 512-token blocks; the prompt is
        # "user: " + blocks + "\n", 2048n + 7 bytes = 512n + 2 tokens, n full
        # blocks of 512 tokens. Unbounded cache: r2 shares ids 0,1 with r1
        # (1024 tokens), r3 shares id 0 (512): 1536 of 1026+1538+1026.
        p = write_trace([
            {"timestamp": 0, "input_length": 1024, "output_length": 1, "hash_ids": [0, 1]},
            {"timestamp": 1, "input_length": 1536, "output_length": 1, "hash_ids": [0, 1, 2]},
            {"timestamp": 2, "input_length": 1024, "output_length": 1, "hash_ids": [0, 3]},
        ])
        try:
            reqs = workload.load_trace(p)
        finally:
            os.unlink(p)
        b = bound.pooled_bound((r.prompt_text() for r in reqs), 1000, 512)
        self.assertEqual((b["cached_tokens"], b["prompt_tokens"]), (1536, 3590))


class Stats(unittest.TestCase):
    def test_percentiles(self):
        v = list(range(100, 0, -1))
        self.assertEqual(stats.percentile(v, 50), 50)
        self.assertEqual(stats.percentile(v, 99), 99)
        self.assertEqual(stats.percentile(v, 100), 100)
        self.assertEqual(stats.percentile(list(range(1, 11)), 99), 10)
        self.assertEqual(stats.percentile([7.5], 50), 7.5)
        self.assertIsNone(stats.percentile([], 50))

    def test_load_balance(self):
        self.assertEqual(stats.load_balance({"a": 3, "b": 1}), 1.5)
        # four backends, two of them idle: mean is 1
        self.assertEqual(stats.load_balance({"a": 3, "b": 1}, 4), 3.0)
        self.assertIsNone(stats.load_balance({}))

    def test_summary(self):
        rs = []
        for i, (be, ttft, pt, ct) in enumerate([("p1", 0.010, 100, 50), ("p1", 0.020, 300, 0),
                                                 ("p2", 0.030, 600, 300), ("p2", None, 0, 0)]):
            r = stats.Result(i)
            r.start = float(i)
            if ttft is None:
                r.error = "timeout"
            else:
                r.ok, r.backend, r.ttft, r.prompt_tokens, r.cached_tokens = True, be, ttft, pt, ct
                r.end = r.start + 1.0
                r.total = 1.0
            rs.append(r)
        s = stats.summarize(rs, 2, {"hit_rate": 0.5})
        self.assertEqual((s["ok"], s["failed"]), (3, 1))
        self.assertAlmostEqual(s["hit_rate"], 350 / 1000)
        self.assertAlmostEqual(s["pct_of_bound"], 70.0)
        self.assertAlmostEqual(s["ttft_ms_p50"], 20.0)
        self.assertAlmostEqual(s["ttft_ms_p99"], 30.0)
        self.assertAlmostEqual(s["backends"]["p1"]["share"], 2 / 3)
        self.assertAlmostEqual(s["max_mean_load"], 2 / 1.5)
        self.assertAlmostEqual(s["max_mean_tokens"], 600 / 500)
        # first send at 0, last answer at 3: 3 answered in 3 s
        self.assertAlmostEqual(s["req_per_s"], 1.0)
        self.assertEqual(s["errors"], ["timeout"])


class Parsing(unittest.TestCase):
    def test_dechunk(self):
        self.assertEqual(driver.dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"), b"abcde")
        for bad in (b"3\r\nab", b"zz\r\nabc\r\n", b"3\r\nabc\r\n"):
            with self.assertRaises(ValueError):
                driver.dechunk(bad)

    def test_usage(self):
        body = (b'data: {"choices":[{"delta":{"content":"x"}}],"usage":null}\n\n'
                b'data: {"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":2,'
                b'"prompt_tokens_details":{"cached_tokens":32}}}\n\ndata: [DONE]\n\n')
        self.assertEqual(driver.parse_usage(body), (40, 32, True))
        self.assertEqual(driver.parse_usage(body[:body.index(b"data: [DONE]")]), (40, 32, False))
        self.assertEqual(driver.parse_usage(b'data: {"usage":null}\n\n'), (None, None, False))
        nodetail = b'data: {"usage":{"prompt_tokens":5}}\n\ndata: [DONE]\n\n'
        self.assertEqual(driver.parse_usage(nodetail), (5, 0, True))

    def test_targets(self):
        t = driver.Target("http://192.0.2.10/")
        self.assertEqual((t.host, t.port, t.path), ("192.0.2.10", 80, driver.DEFAULT_PATH))
        t = driver.Target("203.0.113.11:8000/v1/completions")
        self.assertEqual((t.host, t.port, t.path), ("203.0.113.11", 8000, "/v1/completions"))
        t = driver.Target("http://[2001:db8:a::1]:8080")
        self.assertEqual((t.host, t.port, t.hostport), ("2001:db8:a::1", 8080, "[2001:db8:a::1]:8080"))
        for bad in ("https://x/", "http://:80/", "http://h:99999/"):
            with self.assertRaises(ValueError):
                driver.Target(bad)


class Cli(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run([KVLB_LOAD, *args], capture_output=True, text=True, timeout=60)

    def test_bad_usage_exits_2(self):
        for args in (["--requests", "0", "--bound-only"], ["--time-scale", "-1", "--bound-only"],
                     ["--requests", "x", "--bound-only"], ["--bogus"], [],
                     ["--url", "ftp://x", "--requests", "1"],
                     ["--trace", "/nonexistent/trace.jsonl", "--bound-only"]):
            p = self.run_cli(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("kvlb-load", p.stderr)
            self.assertNotIn("Traceback", p.stderr)

    def test_bad_trace_exits_2(self):
        path = write_trace(['{"timestamp": 0, "hash_ids": [1]}', "{oops"])
        try:
            p = self.run_cli("--trace", path, "--bound-only")
        finally:
            os.unlink(path)
        self.assertEqual(p.returncode, 2)
        self.assertIn(":2: bad trace record", p.stderr)

    def test_help(self):
        p = self.run_cli("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("--trace", "pooled-cache bound", "exit status", "examples"):
            self.assertIn(word, p.stdout)

    def test_bound_only_json(self):
        p = self.run_cli("--requests", "50", "--bound-only", "--pool-blocks", "100000", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["workload"]["requests"], 50)
        self.assertEqual(out["bound"]["prompt_tokens"], out["workload"]["prompt_tokens"])
        self.assertGreater(out["bound"]["hit_rate"], 0.0)


class Tap(unittest.TextTestResult):
    """Report each test as a PASS/FAIL line for tests/run."""

    def addSuccess(self, test):
        super().addSuccess(test)
        print("PASS loadgen.%s" % test.id().split(".", 1)[1], flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        msg = self._exc_info_to_string(err, test).strip().splitlines()[-1]
        print("FAIL loadgen.%s: %s" % (test.id().split(".", 1)[1], msg), flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        msg = self._exc_info_to_string(err, test).strip().splitlines()[-1]
        print("FAIL loadgen.%s: error: %s" % (test.id().split(".", 1)[1], msg), flush=True)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(stream=open(os.devnull, "w"), resultclass=Tap).run(suite)
    sys.exit(0 if res.wasSuccessful() else 1)
