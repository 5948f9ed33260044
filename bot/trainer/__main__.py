"""python -m bot.trainer export | mine | review | respond | gate — see README ("Trainer workflow")."""
from __future__ import annotations

import sys
from typing import Callable, Dict, List, Optional


def _commands() -> Dict[str, Callable[[List[str]], int]]:
    # Imported on demand: `gate` loads TensorFlow, `export` Rasa's tracker stores.
    def export(argv: List[str]) -> int:
        from bot.trainer.export import cli
        return cli(argv)

    def mine(argv: List[str]) -> int:
        from bot.trainer.mine import cli
        return cli(argv)

    def review(argv: List[str]) -> int:
        from bot.trainer.review import cli
        return cli(argv)

    def respond(argv: List[str]) -> int:
        from bot.trainer.review import respond_cli
        return respond_cli(argv)

    def gate(argv: List[str]) -> int:
        from bot.trainer.gate import cli
        return cli(argv)

    return {"export": export, "mine": mine, "review": review, "respond": respond, "gate": gate}


USAGE = """usage: python -m bot.trainer COMMAND [options]   (COMMAND --help for its options)

  export   shopper messages from the tracker store, PII masked, as JSONL
  mine     pick the messages worth a look and cluster them
  review   accept a cluster as examples of an intent, or as a new intent
  respond  fill a new intent's reply
  gate     train a candidate; it goes live only if it is not worse"""


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = _commands()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
