"""The block palette (categories, icons, search, drag source) and the quick-add popup."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from netbuilder.blocks import categories
from netbuilder.ui import icons

BLOCK_MIME = "application/x-netbuilder-block"
TYPE_ROLE = Qt.UserRole + 1


def block_mime(type_name: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(BLOCK_MIME, type_name.encode())
    mime.setText(type_name)
    return mime


def block_type_from_mime(mime: QMimeData) -> str | None:
    if not mime.hasFormat(BLOCK_MIME):
        return None
    return bytes(mime.data(BLOCK_MIME)).decode() or None


def _matches(block, text: str) -> bool:
    text = text.strip().lower()
    if not text:
        return True
    hay = f"{block.type} {block.label} {block.category} {block.description}".lower()
    return all(word in hay for word in text.split())


class _BlockTree(QTreeWidget):
    def mimeTypes(self) -> list[str]:
        return [BLOCK_MIME]

    def mimeData(self, items) -> QMimeData:
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        return block_mime(types[0]) if types else QMimeData()


class Palette(QWidget):
    """Blocks by category; drag one onto the canvas, or double-click to add it at the centre."""

    blockActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search blocks…")
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(20, 20))
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.setIndentation(12)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setObjectName("palette")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._blocks = {}
        for category, blocks in categories():
            cat_item = QTreeWidgetItem([category])
            cat_item.setFlags(Qt.ItemIsEnabled)
            cat_item.setIcon(0, icons.category_icon(category))
            font = cat_item.font(0)
            font.setBold(True)
            cat_item.setFont(0, font)
            self.tree.addTopLevelItem(cat_item)
            for block in blocks:
                item = QTreeWidgetItem([block.label])
                item.setData(0, TYPE_ROLE, block.type)
                item.setIcon(0, icons.block_icon(block.icon))
                item.setToolTip(0, f"<b>{block.label}</b><br>{block.description}")
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                cat_item.addChild(item)
                self._items[block.type] = item
                self._blocks[block.type] = block
        self.tree.expandAll()
        self.search.textChanged.connect(self._filter)
        self.tree.itemDoubleClicked.connect(self._activated)
        self.search.returnPressed.connect(self._activate_first)

    def item_for(self, type_name: str) -> QTreeWidgetItem:
        return self._items[type_name]

    def set_extra_sections(self, sections) -> None:
        """Replace the sections after the catalogue's: [(title, [(key, BlockType)])], as the
        composite blocks (shipped, this project's, My blocks) change."""
        for cat in getattr(self, "_extra_cats", []):
            for j in range(cat.childCount()):
                key = cat.child(j).data(0, TYPE_ROLE)
                self._items.pop(key, None)
                self._blocks.pop(key, None)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(cat))
        self._extra_cats = []
        for title, entries in sections:
            if not entries:
                continue
            cat_item = QTreeWidgetItem([title])
            cat_item.setFlags(Qt.ItemIsEnabled)
            cat_item.setIcon(0, icons.category_icon(title))
            font = cat_item.font(0)
            font.setBold(True)
            cat_item.setFont(0, font)
            self.tree.addTopLevelItem(cat_item)
            for key, block in entries:
                item = QTreeWidgetItem([block.label])
                item.setData(0, TYPE_ROLE, key)
                item.setIcon(0, icons.block_icon(block.icon))
                item.setToolTip(0, f"<b>{block.label}</b><br>{block.description}")
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                cat_item.addChild(item)
                self._items[key] = item
                self._blocks[key] = block
            cat_item.setExpanded(True)
            self._extra_cats.append(cat_item)
        self._filter(self.search.text())

    def visible_types(self) -> list[str]:
        return [t for t, item in self._items.items() if not item.isHidden()]

    def _filter(self, text: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            cat = self.tree.topLevelItem(i)
            any_visible = False
            for j in range(cat.childCount()):
                child = cat.child(j)
                show = _matches(self._blocks[child.data(0, TYPE_ROLE)], text)
                child.setHidden(not show)
                any_visible |= show
            cat.setHidden(not any_visible)

    def _activated(self, item: QTreeWidgetItem, column: int = 0) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.blockActivated.emit(type_name)

    def _activate_first(self) -> None:
        visible = self.visible_types()
        if visible:
            self.blockActivated.emit(visible[0])


class QuickAdd(QFrame):
    """A search popup at the cursor: type, pick with the arrows, Enter adds the block."""

    chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.setObjectName("quickAdd")
        self.edit = QLineEdit(placeholderText="Add block…")
        self.list = QListWidget()
        self.list.setIconSize(QSize(18, 18))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        self.resize(260, 320)
        self._blocks = [(b.type, b) for _, blocks in categories() for b in blocks]
        self._extra: list = []
        self.edit.textChanged.connect(self._fill)
        self.edit.installEventFilter(self)
        self.list.itemActivated.connect(self._choose)
        self.list.itemClicked.connect(self._choose)
        self._fill("")

    def popup(self, global_pos: QPoint) -> None:
        self.edit.clear()
        self._fill("")
        self.move(global_pos)
        self.show()
        self.edit.setFocus()

    def set_extra(self, entries) -> None:
        """Blocks after the catalogue's, as (key, BlockType): the composite blocks."""
        self._extra = list(entries)

    def _fill(self, text: str) -> None:
        self.list.clear()
        for key, block in self._blocks + self._extra:
            if _matches(block, text):
                item = QListWidgetItem(icons.block_icon(block.icon), block.label)
                item.setData(TYPE_ROLE, key)
                item.setToolTip(block.description)
                self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        # as tall as its rows (up to 12), so a narrow search does not leave an empty box
        rows = max(1, min(12, self.list.count()))
        row_h = self.list.sizeHintForRow(0) if self.list.count() else 22
        self.resize(self.width(), self.edit.sizeHint().height() + rows * row_h + 18)

    def eventFilter(self, obj, event) -> bool:
        if (
            obj is self.edit
            and isinstance(event, QKeyEvent)
            and event.type() == event.Type.KeyPress
        ):
            if event.key() in (Qt.Key_Down, Qt.Key_Up):
                row = self.list.currentRow() + (1 if event.key() == Qt.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(self.list.count() - 1, row)))
                return True
            if event.key() in (Qt.Key_Return, Qt.Key_Enter):
                item = self.list.currentItem()
                if item is not None:
                    self._choose(item)
                return True
            if event.key() == Qt.Key_Escape:
                self.close()
                return True
        return super().eventFilter(obj, event)

    def _choose(self, item: QListWidgetItem) -> None:
        type_name = item.data(TYPE_ROLE)
        self.close()
        if type_name:
            self.chosen.emit(type_name)
