"""The canvas: a QGraphicsScene mirroring the graph, its items, and the view."""
