"""Trainer workflow (训练师): transcripts → candidate messages → clusters → NLU YAML, and a
regression gate before a new model goes live. `python -m bot.trainer --help`."""
