# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The pooled-cache bound: the prompt-cache hit rate of ONE cache holding
the capacity of all backends together, fed the whole workload in arrival
order. No router over those backends can beat it in practice: any router
splits the same requests over smaller caches.

The simulated cache is the emulator's: the prompt text is cut into blocks
of block_size tokens (4 bytes a token), only full blocks are cached, each
block is named by a hash chain over the blocks before it, a request's hit
is its longest cached chain prefix, and eviction is LRU over blocks.
"""

from collections import OrderedDict

from .workload import BYTES_PER_TOKEN


def prompt_tokens(text):
    """Tokens of a prompt: 4 bytes a token, a last partial token counts."""
    n = len(text.encode() if isinstance(text, str) else text)
    return (n + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def block_chain(text, block_size):
    """Chain keys of the full blocks of a prompt: key i stands for the
    whole prompt prefix up to the end of block i. As in the emulator, a
    block is full when it holds block_size tokens, so the last one may be
    up to 3 bytes short."""
    data = text.encode() if isinstance(text, str) else text
    step = block_size * BYTES_PER_TOKEN
    nblocks = prompt_tokens(data) // block_size
    keys = []
    h = 0
    for i in range(nblocks):
        # A tuple hash is fast and, within one process, collision-free
        # in practice; keys never leave the process.
        h = hash((h, data[i * step:(i + 1) * step]))
        keys.append(h)
    return keys


class LRUCache:
    """A prefix cache of capacity blocks with the emulator's rules, for
    requests served one after the other: the longest cached chain prefix
    hits; misses are inserted, evicting the least recently used unpinned
    block (the request's own blocks are pinned while it is served); when
    the request ends its blocks rejoin the LRU order tail block first, so
    a prompt's head is the last of it to be evicted."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.lru = OrderedDict()  # unpinned blocks, least recent first

    def access(self, keys):
        """Serve one request's chain; return how many blocks hit."""
        lru = self.lru
        matched = 0
        for k in keys:
            if k not in lru:
                break
            matched += 1
        for k in keys[:matched]:
            del lru[k]
        held = matched
        for k in keys[matched:]:
            if k in lru:
                del lru[k]
            elif len(lru) + held >= self.capacity:
                if not lru:
                    break  # every block is this request's own
                lru.popitem(last=False)
            held += 1
        for k in reversed(keys[:held]):
            lru[k] = True
        return matched


def pooled_bound(prompts, capacity_blocks, block_size):
    """Hit rate (cached tokens / prompt tokens) of one LRU cache of
    capacity_blocks blocks over the prompts, taken in the given order.

    prompts: iterable of prompt texts (str or bytes).
    Returns dict(hit_rate, cached_tokens, prompt_tokens, requests)."""
    cache = LRUCache(capacity_blocks)
    cached = total = n = 0
    for text in prompts:
        keys = block_chain(text, block_size)
        ntok = prompt_tokens(text)
        cached += min(ntok, cache.access(keys) * block_size)
        total += ntok
        n += 1
    return {
        "hit_rate": cached / total if total else 0.0,
        "cached_tokens": cached,
        "prompt_tokens": total,
        "requests": n,
        "capacity_blocks": capacity_blocks,
        "block_size": block_size,
    }
