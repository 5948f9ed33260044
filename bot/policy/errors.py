"""The one error a bad policy file raises, whichever file it is."""
from __future__ import annotations


class PolicyConfigError(ValueError):
    """A policy YAML file is missing, unreadable or breaks its schema.

    The message names the file, the key (dotted, with list positions) and, where the YAML
    parser knows it, the line, so a shop can fix the file without reading code.
    """
