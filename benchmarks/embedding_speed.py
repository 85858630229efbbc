"""Local embedding throughput: sentences per second of the int8 ONNX MiniLM, by batch size.

Embeds N texts taken from the handbook's chunks (real lengths: 20-250 word pieces) and prints a
markdown table. Usage::

    .venv/bin/python benchmarks/embedding_speed.py [--n 256] [--batch-sizes 1,4,8,16,32] [--short]

``--short`` embeds one-line queries instead of chunks (what ``search`` embeds).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from agent.config import PROJECT_ROOT
from agent.knowledge.chunking import read_handbook
from agent.knowledge.embedding import LocalOnnxEmbedding, tokenizer_file

QUERIES = [
    "cache hit ratio dropped",
    "ranking p99 latency above 250ms",
    "disk usage growing on feature-store",
    "canary error ratio higher than baseline",
    "alert flapping without anomaly",
    "memory grows after the last deploy",
]


def corpus(n: int, short: bool) -> list[str]:
    """``n`` texts: handbook chunks (or short queries), repeated as needed."""
    if short:
        base = QUERIES
    else:
        scan = read_handbook(PROJECT_ROOT / "knowledge")
        base = [c.embed_text for chunks in scan.chunks.values() for c in chunks]
    return [base[i % len(base)] for i in range(n)]


def mean_tokens(texts: list[str], max_length: int) -> float:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file()))
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()  # tokenizer.json pads to 128 by default
    return sum(len(e.ids) for e in tok.encode_batch(texts)) / max(len(texts), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="texts to embed per batch size")
    parser.add_argument("--batch-sizes", default="1,4,8,16,32")
    parser.add_argument("--short", action="store_true", help="embed one-line queries instead of chunks")
    args = parser.parse_args()
    texts = corpus(args.n, args.short)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    LocalOnnxEmbedding().embed(texts[:4])  # load the model once, outside the timings
    print(
        f"# embedding speed: {len(texts)} {'queries' if args.short else 'handbook chunks'}, "
        f"{mean_tokens(texts, 256):.0f} word pieces on average"
    )
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print()
    print("| batch size | sentences/s | ms/sentence | total s |")
    print("|---:|---:|---:|---:|")
    for size in sizes:
        ef = LocalOnnxEmbedding(batch_size=size)
        start = time.perf_counter()
        ef.embed(texts)
        elapsed = time.perf_counter() - start
        print(f"| {size} | {len(texts) / elapsed:.1f} | {1000 * elapsed / len(texts):.2f} | {elapsed:.2f} |")


if __name__ == "__main__":
    main()
