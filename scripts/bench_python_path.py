"""The Python path attnviz's whole report is held to (issue 14): what a researcher would write to
look at the same attention heads. Loads all-MiniLM-L6-v2 with transformers (eager attention),
runs one forward with output_attentions=True, and draws every head's attention (6 layers x 12
heads = 72) as a PNG with matplotlib: viridis, token labels on both axes, a colorbar, 1000 x 1000
px (10 in at 100 dpi). One figure per head, closed after saving, in a plain loop.

Usage: python3 bench_python_path.py MODEL_DIR TEXT_FILE OUT_DIR
Prints "tokens N heads H seconds S" (S from the start of the script, imports included).
attnviz-bench times the whole process from outside, alternating it with `attnviz render`.
"""
import time

START = time.perf_counter()

import os  # noqa: E402
import sys  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402


def main() -> None:
    model_dir, text_file, out_dir = sys.argv[1:4]
    text = open(text_file, encoding="utf-8").read()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=512)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    with torch.inference_mode():
        attentions = model(**inputs, output_attentions=True).attentions
    os.makedirs(out_dir, exist_ok=True)
    n = len(tokens)
    heads = 0
    for layer, att in enumerate(attentions):
        weights = att[0].numpy()
        for head in range(weights.shape[0]):
            fig, ax = plt.subplots(figsize=(10, 10), dpi=100)
            im = ax.imshow(weights[head], cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks(range(n))
            ax.set_xticklabels(tokens, rotation=90, fontsize=6)
            ax.set_yticks(range(n))
            ax.set_yticklabels(tokens, fontsize=6)
            ax.set_xlabel("key")
            ax.set_ylabel("query")
            ax.set_title(f"layer {layer} head {head}")
            fig.colorbar(im, ax=ax, label="attention weight", fraction=0.046, pad=0.04)
            fig.savefig(os.path.join(out_dir, f"L{layer}H{head}.png"))
            plt.close(fig)
            heads += 1
    print(f"tokens {n} heads {heads} seconds {time.perf_counter() - START:.2f}", flush=True)


if __name__ == "__main__":
    main()
