"""Reads what a user sees in an HTML report: the summary table, the phases
table, the call tree (li.rp-node elements with their data attributes and
nesting) and the profile data the page's script reads (the JSON in
<script type="application/json" id="rp-data">)."""
import json
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
        self.phases = {}      # phase -> (total_us, sampled weight)
        self.data = None      # the embedded JSON, parsed
        self._data_text = None
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
        elif tag == "tr" and "data-phase" in a:
            self.phases[a["data-phase"]] = (int(a["data-total-us"]),
                                            int(a["data-sampled-weight"]))
        elif tag == "script" and a.get("id") == "rp-data":
            self._data_text = []
        elif tag == "td" and self._key:
            self._in_td, self._text = True, []

    def handle_endtag(self, tag):
        if tag == "script" and self._data_text is not None:
            self.data = json.loads("".join(self._data_text))
            self._data_text = None
        elif tag == "li" and self._stack:
            self._stack.pop()
        elif tag == "td" and self._in_td:
            self.summary[self._key] = "".join(self._text)
            self._in_td, self._key = False, None

    def handle_data(self, data):
        if self._data_text is not None:
            self._data_text.append(data)
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

    def wait_under(self, match):
        """Waiting weight under the nodes for which match(node) is true,
        counting each sample once (the outermost matching node)."""
        def walk(node):
            if match(node):
                return node.wait
            return sum(walk(c) for c in node.children)
        return sum(walk(r) for r in self.roots)

    @property
    def wait(self):
        return sum(r.wait for r in self.roots)


class ProfileData:
    """The embedded profile data, decoded: per sample its time (us since the
    request began), weight, phase name, waiting flag and stack (function
    names, outermost first)."""

    def __init__(self, data):
        self.raw = data
        nodes = data["nodes"]
        self.parents = nodes[0::2]
        self.frames = nodes[1::2]
        self.names = [f[0] for f in data["frames"]]
        self.objects = [data["objects"][f[1]] for f in data["frames"]]
        self.samples = []
        t = data["t0_us"]
        s = data["samples"]
        for i in range(0, len(s), 3):
            t += s[i]
            code = s[i + 2]
            self.samples.append({"t_us": t, "node": s[i + 1], "weight": code // 32,
                                 "phase": data["phases"][(code // 2) % 16],
                                 "waiting": bool(code % 2)})

    def stack(self, node):
        names = []
        while node > 0:
            names.append(self.names[self.frames[node]])
            node = self.parents[node]
        return list(reversed(names))

    def weight_of(self, func, phase=None):
        return sum(x["weight"] for x in self.samples
                   if func in self.stack(x["node"]) and phase in (None, x["phase"]))
