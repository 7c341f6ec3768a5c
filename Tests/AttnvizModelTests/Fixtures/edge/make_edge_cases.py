"""Reference cases for the tokenizers' edge cases (issue 9), from HF's Rust tokenizers.

Run once to regenerate (Python is never used at run time):
    python -m venv /tmp/tok && /tmp/tok/bin/pip install tokenizers
    /tmp/tok/bin/python make_edge_cases.py ~/.cache/attnviz/models/all-MiniLM-L6-v2 ../tiny/gpt2

Writes wordpiece_edge.jsonl (MiniLM's tokenizer.json) and bpe_edge.jsonl (the tiny GPT-2's):
each line has the text, the pieces, ids and code-point offsets without special tokens, and the
ids and pieces with them, plus the Unicode general category the case is about.
"""
import json
import sys
import unicodedata

from tokenizers import Tokenizer

# One or more code points per category the BERT basic tokenizer treats specially, alone, inside
# a word and between words.
SAMPLES = {
    "Cn": ["\u0378", "\u0379", "\u0530", "\u2fff", "\U0001fffe", "\U000e0080"],
    "Co": ["\ue000", "\uf8ff", "\U000f0000", "\U00100000"],
    "Cf": ["\u00ad", "\u200b", "\u200c", "\u200d", "\u200e", "\u2060", "\ufeff", "\U000e0001", "\u0600"],
    "Cc": ["\u0000", "\u0001", "\u0007", "\u001b", "\u007f", "\u0080", "\u0085", "\u009f", "\u000b", "\u000c"],
    "Zs": ["\u00a0", "\u1680", "\u2000", "\u2003", "\u2009", "\u202f", "\u205f", "\u3000"],
    "Zl/Zp": ["\u2028", "\u2029"],
    "Mn": ["\u0301", "\u0308", "\u0327", "\u05b7", "\u0e31", "\u20d7", "\u302a"],
    "Mc/Me": ["\u0903", "\u20dd"],
    "CJK": ["\u4e00", "\u9fff", "\u3400", "\u4dbf", "\U00020000", "\U0002a6df", "\U0002a700", "\U0002b740",
            "\U0002b820", "\uf900", "\ufaff", "\U0002f800", "\u3041", "\u30a2", "\uac00", "\u3007"],
    "Cs-adjacent/other": ["\ufffd", "\ufffc", "\U0001f600", "\u2603"],
}

WHITESPACE = ["\n", "\n\n\n", " ", "   ", "\t", " \n ", "\r\n", "\u00a0", "\u3000 \u2003"]


def category(text):
    return ",".join(sorted({unicodedata.category(c) for c in text}))


def case(tok, cid, kind, text, offsets_as_codepoints=True):
    plain = tok.encode(text, add_special_tokens=False)
    special = tok.encode(text)
    return {
        "id": cid, "kind": kind, "categories": category(text), "text": text,
        "codepoints": [ord(c) for c in text],
        "tokens": plain.tokens, "ids": plain.ids, "offsets": [list(o) for o in plain.offsets],
        "tokens_special": special.tokens, "ids_special": special.ids,
    }


def main():
    minilm, gpt2 = sys.argv[1], sys.argv[2]
    wp = Tokenizer.from_file(f"{minilm}/tokenizer.json")
    bpe = Tokenizer.from_file(f"{gpt2}/tokenizer.json")
    wp.no_truncation(); wp.no_padding()
    bpe.no_truncation(); bpe.no_padding()
    texts = []
    for kind, chars in SAMPLES.items():
        for c in chars:
            name = f"U+{ord(c):04X}"
            texts += [(kind, name + " alone", c), (kind, name + " in a word", f"ab{c}cd"),
                      (kind, name + " between words", f"the {c} cat"), (kind, name + " after a word", f"house{c} x"),
                      (kind, name + " doubled", f"{c}{c}")]
    texts += [("accents", "composed", "Café naïve Ångström"), ("accents", "decomposed", "Cafe\u0301 nai\u0308ve"),
              ("mixed", "CJK and Latin", "abc日本語def 한국어"), ("mixed", "controls everywhere", "\u0000a\u0001b\u007fc")]
    for ws in WHITESPACE:
        texts.append(("whitespace-only", repr(ws), ws))
    with open("wordpiece_edge.jsonl", "w", encoding="utf-8") as f:
        for i, (kind, name, text) in enumerate(texts):
            f.write(json.dumps(case(wp, f"w{i:03d}", f"{kind}: {name}", text), ensure_ascii=False) + "\n")
    with open("bpe_edge.jsonl", "w", encoding="utf-8") as f:
        for i, (kind, name, text) in enumerate(texts):
            f.write(json.dumps(case(bpe, f"b{i:03d}", f"{kind}: {name}", text), ensure_ascii=False) + "\n")
    print(len(texts), "cases each")


if __name__ == "__main__":
    main()
