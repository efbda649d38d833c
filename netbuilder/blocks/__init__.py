"""The block catalogue: one entry per block type (see docs/CONTRACTS.md, block catalogue)."""

from netbuilder.blocks.catalogue import CATALOGUE, categories, get_block
from netbuilder.blocks.spec import BlockError, BlockType, ParamSpec, fmt_shape

__all__ = [
    "CATALOGUE",
    "BlockError",
    "BlockType",
    "ParamSpec",
    "categories",
    "fmt_shape",
    "get_block",
]
