"""Left-to-right layout that wraps long chains into rows so the whole network fits the view.

A 13-block LeNet in one row is 2,800 px wide: fitted into a laptop window its text is too small
to read. Columns are the blocks' depths (longest path from an input), as in
``netbuilder.graph.commands.layout_positions``; runs of columns are stacked as rows, the row
length chosen so the drawing, scaled to fit the view, is as large as possible.
"""

from __future__ import annotations

from netbuilder.ui.canvas.items import NODE_HEIGHT, NODE_WIDTH

GAP_X = 76.0  # room for the shape label on a wire
GAP_Y = 34.0
ROW_GAP = 70.0  # lanes for the wires that return to the next row
MARGIN = 60.0


def _columns(graph) -> list[list[str]]:
    order = graph.topological_order()
    depth = {nid: 0 for nid in graph.nodes}
    for nid in order:
        for e in graph.edges_from(nid):
            depth[e.dst] = max(depth[e.dst], depth[nid] + 1)
    columns: dict[int, list[str]] = {}
    for nid in graph.nodes:
        columns.setdefault(depth[nid], []).append(nid)
    return [columns[d] for d in sorted(columns)]


def _size(columns, per_row) -> tuple[float, float, list[float]]:
    rows = [columns[i : i + per_row] for i in range(0, len(columns), per_row)]
    heights = [max(len(c) for c in row) * (NODE_HEIGHT + GAP_Y) - GAP_Y for row in rows]
    width = min(per_row, len(columns)) * (NODE_WIDTH + GAP_X) - GAP_X
    height = sum(heights) + ROW_GAP * (len(rows) - 1)
    return width, height, heights


def wrapped_layout(graph, view_w: float = 1000.0, view_h: float = 700.0) -> dict:
    """{node_id: (x, y)} for every node; rows of columns sized to the view (scene units)."""
    columns = _columns(graph)
    if not columns:
        return {}
    best, best_key = len(columns), None
    for per_row in range(1, len(columns) + 1):
        w, h, _ = _size(columns, per_row)
        scale = min(1.0, view_w / (w + 2 * MARGIN), view_h / (h + 2 * MARGIN))
        key = (round(scale, 2), per_row)  # largest picture, then the fewest rows
        if best_key is None or key > best_key:
            best, best_key = per_row, key
    _, _, heights = _size(columns, best)
    positions = {}
    top = 0.0
    for r, start in enumerate(range(0, len(columns), best)):
        row_h = heights[r]
        for c, column in enumerate(columns[start : start + best]):
            col_h = len(column) * (NODE_HEIGHT + GAP_Y) - GAP_Y
            y0 = top + (row_h - col_h) / 2
            for i, nid in enumerate(column):
                positions[nid] = (c * (NODE_WIDTH + GAP_X), round(y0 + i * (NODE_HEIGHT + GAP_Y)))
        top += row_h + ROW_GAP
    return positions
