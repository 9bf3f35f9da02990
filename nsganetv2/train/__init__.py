"""Fine-tuning of searched networks: CIFAR-style (train_cifar.py) and ImageNet-style (timm parts, EMA, AMP,
distillation from the supernet's largest subnet), single process or torchrun DDP, checkpoint per epoch, resume.

Quick use::

    from nsganetv2.train import TrainConfig, train
    train(TrainConfig(model_config="net.config", initial_checkpoint="net.inherited", dataset="cifar10",
                      data="../data", epochs=150, cutout=True, autoaugment=True, save="ft"))
"""
from .config import RECIPES, TrainConfig, add_train_args, config_from_args
from .finetune import find_checkpoint, train
from .model import build_student, distillation_loss, load_teacher, mixed_loss

__all__ = ["RECIPES", "TrainConfig", "add_train_args", "build_student", "config_from_args", "distillation_loss",
           "find_checkpoint", "load_teacher", "mixed_loss", "train"]
