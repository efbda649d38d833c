"""The Problems panel: one row per block that is wrong, clicking a row shows the block."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle

from netbuilder.graph.model import problem_line

# rows the list shows (a 10,000-block loop has 10,000 problems: a list nobody reads, rebuilt on
# every edit); the rest are counted in the last row and in the dock's title
MAX_PROBLEM_ROWS = 500


class ProblemsPanel(QListWidget):
    """Lists `graph.problems()`; emits `nodeChosen(node id)` when a row is clicked or activated.
    `countChanged(n)` lets the dock's title say how many there are."""

    nodeChosen = Signal(str)
    countChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("problems")
        self.setWordWrap(True)
        self.itemClicked.connect(self._chosen)
        self.itemActivated.connect(self._chosen)

    def fill(self, graph, validity: str) -> None:
        """Rebuild from the graph; `validity` is the status bar's summary ("valid", ...)."""
        self.clear()
        warn = self.style().standardIcon(QStyle.SP_MessageBoxWarning)
        problems = graph.problems()
        for node_id, message in problems[:MAX_PROBLEM_ROWS]:
            node = graph.nodes[node_id]
            item = QListWidgetItem(warn, problem_line(node.name, message))
            item.setData(Qt.UserRole, node_id)
            item.setToolTip(message)
            self.addItem(item)
        n = len(problems)
        if n > MAX_PROBLEM_ROWS:
            more = QListWidgetItem(
                f"… and {n - MAX_PROBLEM_ROWS:,} more: fix the ones above first "
                "(every block with a problem is outlined in red on the canvas)"
            )
            more.setFlags(Qt.NoItemFlags)
            self.addItem(more)
        if not n:
            if graph.nodes and validity != "valid":  # e.g. no output yet: say so, not "✔"
                ok = QListWidgetItem(f"Not ready yet: {validity}")
            elif not graph.nodes:
                ok = QListWidgetItem("Empty network: drag an Input block from the Blocks palette")
            else:
                ok = QListWidgetItem("✔ No problems: every block has a valid input and output")
            ok.setFlags(Qt.NoItemFlags)
            self.addItem(ok)
        self.countChanged.emit(n)

    def rows(self) -> list[tuple[str, str]]:
        """(node id, text) of each problem row."""
        out = []
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.UserRole):
                out.append((item.data(Qt.UserRole), item.text()))
        return out

    def _chosen(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.UserRole)
        if node_id:
            self.nodeChosen.emit(node_id)
