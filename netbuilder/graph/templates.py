"""The starter networks in resources/templates/ (project files like any other)."""

from __future__ import annotations

from netbuilder.graph.project import Project, load_project
from netbuilder.resources import resource_path

# file stem -> menu title, in menu order
TEMPLATES = {
    "lenet": "LeNet-5 (the PyTorch tutorial's CNN)",
    "mlp": "MLP (two hidden layers)",
    "bn_cnn": "CNN with BatchNorm",
    "resnet": "Small residual CNN (skip connection)",
    "vgg": "VGG-style CNN (composite blocks, 3x32x32)",
    "resnet8": "ResNet-8 (BasicBlock composites, 3x32x32)",
}


def template_path(name: str):
    return resource_path("templates", f"{name}.json")


def list_templates() -> list[tuple[str, str]]:
    """[(name, title)] for the File > New from Template menu."""
    return list(TEMPLATES.items())


def load_template(name: str) -> Project:
    if name not in TEMPLATES:
        raise KeyError(f"unknown template {name!r}; choose one of {', '.join(TEMPLATES)}")
    return load_project(template_path(name))
