"""Fine-tuning of searched networks: CIFAR-style (train_cifar.py) and ImageNet-style (timm parts, EMA, AMP,
distillation from the supernet's largest subnet), single process or torchrun DDP, checkpoint per epoch, resume.

Quick use::

    from nsganetv2.train import TrainConfig, train
    train(TrainConfig(model_config="net.config", initial_checkpoint="net.inherited", dataset="cifar10",
                      data="../data", epochs=150, cutout=True, autoaugment=True, save="ft"))
"""
from importlib import import_module

from .config import RECIPES, TrainConfig, add_train_args, config_from_args

# the training code (torch, timm) loads on first use, so building the CLI's parser stays fast
_LAZY = {"find_checkpoint": "finetune", "train": "finetune", "build_student": "model",
         "distillation_loss": "model", "load_teacher": "model", "mixed_loss": "model"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["RECIPES", "TrainConfig", "add_train_args", "build_student", "config_from_args", "distillation_loss",
           "find_checkpoint", "load_teacher", "mixed_loss", "train"]
