"""The network model: nodes, edges, inference, undoable commands, project files (no Qt).

See docs/CONTRACTS.md (graph, inference, commands).
"""

from netbuilder.graph import commands
from netbuilder.graph.history import History
from netbuilder.graph.inference import output_node
from netbuilder.graph.model import Change, Edge, Graph, GraphError, Node, check_name

__all__ = [
    "Change",
    "Edge",
    "Graph",
    "GraphError",
    "History",
    "Node",
    "check_name",
    "commands",
    "output_node",
]
