"""``python -m nsganetv2.train --model-config net.config ...`` (also under ``torchrun``)."""
from __future__ import annotations

import argparse
import logging
import os

from .config import add_train_args, config_from_args
from .finetune import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nsganetv2.train", description="fine-tune a searched network")
    add_train_args(parser)
    ns = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    train(config_from_args(ns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
