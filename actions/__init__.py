"""Thin rasa_sdk actions: read the tracker, call `bot/`, return events."""
