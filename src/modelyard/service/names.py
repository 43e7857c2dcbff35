"""Friendly random run names ("brave-owl-042"), as MLflow gives unnamed runs."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
    "glad", "grand", "keen", "kind", "lively", "lucid", "merry", "nimble", "noble", "placid",
    "proud", "quick", "quiet", "rapid", "sharp", "shy", "silent", "sleek", "smooth", "steady",
    "stout", "sunny", "swift", "tidy", "vivid", "warm", "wise", "witty", "young", "zesty",
)
_NOUNS = (
    "ant", "bear", "bee", "crane", "crow", "deer", "dove", "eel", "elk", "finch", "fox", "frog",
    "gull", "hare", "hawk", "heron", "ibis", "jay", "koala", "lark", "lynx", "mole", "moth",
    "newt", "otter", "owl", "panda", "quail", "robin", "seal", "shrew", "snail", "stork", "swan",
    "tern", "toad", "trout", "vole", "wasp", "wren",
)


def random_run_name(rng: random.Random | None = None) -> str:
    r = rng or random
    return f"{r.choice(_ADJECTIVES)}-{r.choice(_NOUNS)}-{r.randrange(1000):03d}"
