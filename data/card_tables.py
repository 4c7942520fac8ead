"""Print the count tables of data/README.md from the corpus: `python data/card_tables.py`."""
import collections
import json
from pathlib import Path

LABELS = ["brand_news", "hard_ad", "service", "user_interest", "community"]
LANGS = ["zh", "en", "ko"]
rows = [json.loads(line) for f in sorted((Path(__file__).parent / "corpus").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
by = collections.Counter((r["label"], r["lang"]) for r in rows)
print("| label | zh | en | ko | total |\n|---|---|---|---|---|")
for label in LABELS:
    print(f"| `{label}` | " + " | ".join(str(by[(label, lang)]) for lang in LANGS)
          + f" | {sum(by[(label, lang)] for lang in LANGS)} |")
totals = [sum(by[(label, lang)] for label in LABELS) for lang in LANGS]
print("| **all** | " + " | ".join(map(str, totals)) + f" | {len(rows)} |")
print("\nShares: " + ", ".join(f"{lang} {100 * t / len(rows):.1f}%" for lang, t in zip(LANGS, totals)))
reg = collections.Counter((r["register"], r["lang"]) for r in rows)
print("\n| register | zh | en | ko | total |\n|---|---|---|---|---|")
for name in sorted({r for r, _ in reg}, key=lambda n: -sum(reg[(n, lang)] for lang in LANGS)):
    print(f"| {name} | " + " | ".join(str(reg[(name, lang)]) for lang in LANGS)
          + f" | {sum(reg[(name, lang)] for lang in LANGS)} |")
lengths = sorted(len(r["text"]) for r in rows)
print(f"\nLength in characters: median {lengths[len(lengths) // 2]}, "
      f"10th percentile {lengths[len(lengths) // 10]}, 90th percentile {lengths[9 * len(lengths) // 10]}, "
      f"max {lengths[-1]}.")
