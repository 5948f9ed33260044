"""Rasa input channels: the REST channel with input checks, later the live room and app chat."""
