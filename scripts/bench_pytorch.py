"""The reference attnviz's forward benchmark is held to: HuggingFace transformers, PyTorch eager,
attention weights returned (output_attentions=True), on the same machine, in the same run.

Usage: python3 bench_pytorch.py MODEL_DIR [N ...]   → prints "N milliseconds" per line; with no
N it reads one N per line on stdin and answers each at once (attnviz-bench keeps it running and
alternates it with its own runs, so both see the same machine).
Same token ids as attnviz-bench (101, a deterministic spread of word ids, 102); median of 21 runs
after 3 warm-up runs; torch's default threads (= cores).
"""
import statistics
import sys
import time

import torch
from transformers import AutoModel


def measure(model, n: int) -> float:
    ids = [101] + [1000 + (i * 7919) % 20000 for i in range(n - 2)] + [102]
    inputs = {
        "input_ids": torch.tensor([ids]),
        "token_type_ids": torch.zeros(1, n, dtype=torch.long),
        "attention_mask": torch.ones(1, n, dtype=torch.long),
    }
    times = []
    with torch.inference_mode():
        for rep in range(24):
            start = time.perf_counter()
            model(**inputs, output_attentions=True)
            if rep >= 3:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    model_dir, sizes = sys.argv[1], [int(a) for a in sys.argv[2:]]
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)
    for n in sizes or (int(line) for line in sys.stdin if line.strip()):
        print(n, measure(model, n), flush=True)


if __name__ == "__main__":
    main()
