"""The ops behind Tensor, by theme: each module holds its op functions (forward and backward side
by side, the backward a closure over what the forward kept) and a mixin with the Tensor methods
that call them. ``_graph`` is the plumbing they share; engine.tensor puts the class together.
"""
