"""Reads what a user sees in an HTML report: the summary table and the call
tree (li.rp-node elements with their data attributes and nesting)."""
from html.parser import HTMLParser


class Node:
    def __init__(self, attrs, parent):
        self.func = attrs.get("data-func")
        self.obj = attrs.get("data-obj")
        self.total = int(attrs.get("data-total-weight", "0"))
        self.self_weight = int(attrs.get("data-self-weight", "0"))
        self.wait = int(attrs.get("data-wait-weight", "0"))
        self.total_us = float(attrs.get("data-total-us", "0"))
        self.parent = parent
        self.children = []

    def path(self):
        names, node = [], self
        while node is not None:
            names.append(node.func)
            node = node.parent
        return list(reversed(names))


class Report(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.summary = {}
        self.roots = []
        self.nodes = []
        self._stack = []      # open <li> elements: Node or None
        self._key = None
        self._in_td = False
        self._text = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li":
            if "rp-node" in (a.get("class") or "").split():
                parent = next((n for n in reversed(self._stack) if n), None)
                node = Node(a, parent)
                (parent.children if parent else self.roots).append(node)
                self.nodes.append(node)
                self._stack.append(node)
            else:
                self._stack.append(None)
        elif tag == "tr" and "data-key" in a:
            self._key = a["data-key"]
        elif tag == "td" and self._key:
            self._in_td, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "li" and self._stack:
            self._stack.pop()
        elif tag == "td" and self._in_td:
            self.summary[self._key] = "".join(self._text)
            self._in_td, self._key = False, None

    def handle_data(self, data):
        if self._in_td:
            self._text.append(data)

    @property
    def total(self):
        return sum(r.total for r in self.roots)

    def weight_of(self, func):
        """Inclusive weight of func, counting each sample once even when the
        function appears on several paths or recursively."""
        def walk(node, inside):
            if node.func == func and not inside:
                return node.total
            return sum(walk(c, inside or node.func == func) for c in node.children)
        return sum(walk(r, False) for r in self.roots)

    def find(self, func):
        return [n for n in self.nodes if n.func == func]
