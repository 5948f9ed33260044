"""The trainer's rules (bot/policy/trainer.yml, or POLICY_DIR): which transcript messages
are worth a trainer's time, how tightly they are grouped, and how much worse a candidate
model may score before the gate refuses it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple, Union

from bot.policy.location import policy_file
from bot.policy.policy_yaml import PolicyFile

TRAINER_FILE = "trainer.yml"


@dataclass(frozen=True)
class TrainerRules:
    low_confidence: float
    correction_phrases: Tuple[str, ...]
    # Cosine distance (0..1] under which average-linkage clustering still merges groups.
    cluster_distance: float
    min_cluster_size: int
    representatives: int
    gate_margin: float
    gate_noise_messages: int


def load_trainer_rules(path: Union[str, "os.PathLike[str]", None] = None) -> TrainerRules:
    source = PolicyFile(path if path is not None else policy_file(TRAINER_FILE))
    top = source.mapping((), source.data, required=("mine", "gate"))
    mine = source.mapping(("mine",), top["mine"], required=(
        "low_confidence", "correction_phrases", "cluster_distance", "min_cluster_size",
        "representatives"))
    gate = source.mapping(("gate",), top["gate"], required=("margin", "noise_messages"))
    return TrainerRules(
        low_confidence=source.number(("mine", "low_confidence"), mine["low_confidence"], 0, 1),
        correction_phrases=source.strings(("mine", "correction_phrases"), mine["correction_phrases"]),
        # 0 would leave every message alone; cosine distances of n-gram weights stop at 1.
        cluster_distance=source.number(("mine", "cluster_distance"), mine["cluster_distance"],
                                       0, 1, minimum_inclusive=False),
        min_cluster_size=source.integer(("mine", "min_cluster_size"), mine["min_cluster_size"], 1, 100_000),
        representatives=source.integer(("mine", "representatives"), mine["representatives"], 1, 100),
        gate_margin=source.number(("gate", "margin"), gate["margin"], 0, 1),
        gate_noise_messages=source.integer(("gate", "noise_messages"), gate["noise_messages"], 0, 1000),
    )


@lru_cache(maxsize=1)
def trainer_rules() -> TrainerRules:
    return load_trainer_rules()
