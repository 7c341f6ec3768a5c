"""PyTorch reference for `attnviz train --init` (used by the tests, never at run time).

  init     --out DIR --seed N --d-model D --layers E,D --heads H --ffn F --vocab V --activation A
           [--batches FILE --count C --batch B --source S --target T]
           a tiny random MarianMTModel saved with save_pretrained (dropout 0, tied embeddings), and
           random right-padded batches for it (pad = V - 1), one JSON object per line
  train    --init DIR --batches FILE --steps K --label-smoothing E --warmup W --lr-factor F
           --log L.jsonl --dump-gradients G.safetensors
           transformers' MarianMTModel (eager attention, train mode) + torch.nn.CrossEntropyLoss(
           label_smoothing=E, ignore_index=pad), Adam(0.9, 0.98, 1e-9) with the Noam schedule
  logits   --model DIR --input-ids 5,6,7 --decoder-input-ids 2,8 --out F.safetensors
           MarianMTModel.from_pretrained(DIR) logits [T, vocab] (eval mode, eager attention)
"""
import argparse
import json
import time

import torch
from safetensors.torch import save_file
from transformers import MarianConfig, MarianMTModel


def make_init(a):
    torch.manual_seed(a.seed)
    enc, dec = (int(x) for x in a.layers.split(","))
    config = MarianConfig(
        vocab_size=a.vocab, decoder_vocab_size=a.vocab, d_model=a.d_model, encoder_layers=enc, decoder_layers=dec,
        encoder_attention_heads=a.heads, decoder_attention_heads=a.heads, encoder_ffn_dim=a.ffn, decoder_ffn_dim=a.ffn,
        activation_function=a.activation, max_position_embeddings=64, pad_token_id=a.vocab - 1,
        decoder_start_token_id=a.vocab - 1, eos_token_id=0, forced_eos_token_id=0, dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, scale_embedding=True, share_encoder_decoder_embeddings=True, tie_word_embeddings=True)
    model = MarianMTModel(config)
    g = torch.Generator().manual_seed(a.seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        model.final_logits_bias.copy_(0.1 * torch.randn(model.final_logits_bias.shape, generator=g))
    model.save_pretrained(a.out)
    if a.batches:
        make_batches(a, pad=a.vocab - 1)


def make_batches(a, pad):
    """Row 0 of each batch is full length, the others shorter (padded); decoder inputs are the
    labels shifted right after the start token (= pad, as Marian's)."""
    g = torch.Generator().manual_seed(a.seed + 1)
    with open(a.batches, "w") as f:
        for _ in range(a.count):
            src, dec, lab = [], [], []
            for row in range(a.batch):
                s = a.source if row == 0 else int(torch.randint(max(1, a.source // 2), a.source + 1, (1,), generator=g))
                t = a.target if row == 0 else int(torch.randint(max(1, a.target // 2), a.target + 1, (1,), generator=g))
                ids = torch.randint(0, pad, (s,), generator=g).tolist()
                labels = torch.randint(0, pad, (t,), generator=g).tolist()
                src.append(ids + [pad] * (a.source - s))
                lab.append(labels + [pad] * (a.target - t))
                dec.append(([pad] + labels)[: a.target] + [pad] * max(0, a.target - t - 1))
            f.write(json.dumps({"input_ids": src, "decoder_input_ids": dec, "labels": lab}) + "\n")


def train(a):
    torch.set_num_threads(a.threads)
    model = MarianMTModel.from_pretrained(a.init, attn_implementation="eager")
    model.train()
    pad, vocab = model.config.pad_token_id, model.config.vocab_size
    batches = [json.loads(line) for line in open(a.batches) if line.strip()]
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.Adam([p for _, p in named], lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    ce = torch.nn.CrossEntropyLoss(label_smoothing=a.label_smoothing, ignore_index=pad)
    d = model.config.d_model
    log = open(a.log, "w")
    for k in range(1, a.steps + 1):
        start = time.perf_counter()
        b = batches[(k - 1) % len(batches)]
        ids = torch.tensor(b["input_ids"])
        out = model(input_ids=ids, attention_mask=(ids != pad).long(), decoder_input_ids=torch.tensor(b["decoder_input_ids"]))
        loss = ce(out.logits.reshape(-1, vocab), torch.tensor(b["labels"]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        if k == 1:
            # Positions are computed under no_grad: they have no gradient and Adam skips them.
            save_file({n: p.grad.detach().contiguous() for n, p in named if p.grad is not None}, a.dump_gradients)
        lr = a.lr_factor * d ** -0.5 * min(k ** -0.5, k * a.warmup ** -1.5)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        seconds = time.perf_counter() - start
        log.write(json.dumps({"step": k, "loss": loss.item(), "lr": lr, "seconds": seconds}) + "\n")
    log.close()


def logits(a):
    torch.set_num_threads(1)
    model = MarianMTModel.from_pretrained(a.model, attn_implementation="eager")
    model.eval()
    ids = torch.tensor([[int(x) for x in a.input_ids.split(",")]])
    dec = torch.tensor([[int(x) for x in a.decoder_input_ids.split(",")]])
    with torch.no_grad():
        out = model(input_ids=ids, decoder_input_ids=dec).logits[0]
    save_file({"logits": out.contiguous()}, a.out)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init")
    i.add_argument("--out", required=True)
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--d-model", type=int, required=True)
    i.add_argument("--layers", required=True)
    i.add_argument("--heads", type=int, required=True)
    i.add_argument("--ffn", type=int, required=True)
    i.add_argument("--vocab", type=int, required=True)
    i.add_argument("--activation", required=True)
    i.add_argument("--batches")
    for name, default in (("count", 3), ("batch", 3), ("source", 6), ("target", 5)):
        i.add_argument("--" + name, type=int, default=default)
    t = sub.add_parser("train")
    t.add_argument("--init", required=True)
    t.add_argument("--batches", required=True)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--label-smoothing", type=float, required=True)
    t.add_argument("--warmup", type=int, required=True)
    t.add_argument("--lr-factor", type=float, required=True)
    t.add_argument("--log", required=True)
    t.add_argument("--dump-gradients", required=True)
    t.add_argument("--threads", type=int, default=1)
    lg = sub.add_parser("logits")
    lg.add_argument("--model", required=True)
    lg.add_argument("--input-ids", required=True)
    lg.add_argument("--decoder-input-ids", required=True)
    lg.add_argument("--out", required=True)
    a = p.parse_args()
    {"init": make_init, "train": train, "logits": logits}[a.cmd](a)


if __name__ == "__main__":
    main()
