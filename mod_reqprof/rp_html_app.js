// mod_reqprof report: the views of the HTML report (call tree, flame graph,
// timeline, time per module), built in the browser from the profile data
// the page embeds as JSON (<script type="application/json" id="rp-data">,
// described in rp_html_data.h). Plain ES5-style JavaScript, no library, no
// eval, nothing loaded: the page's CSP allows inline script and style only.
//
// Text from the profile (function, object and file names, the URI) is only
// ever put into the page with textContent or as attribute values, never as
// markup.
//
// Embedded by build/embed_assets.py: keep it ASCII, without multi-line
// string literals, and write no closing script tag in it.
(function () {
'use strict';

var doc = document;

function $(id) {
    return doc.getElementById(id);
}

function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) {
        e.className = cls;
    }
    if (text !== undefined && text !== null) {
        e.textContent = String(text);
    }
    return e;
}

function clear(e) {
    while (e.firstChild) {
        e.removeChild(e.firstChild);
    }
}

// The Expand/Collapse buttons of the server-rendered tree, for a page whose
// data cannot be read (the JS tree replaces them otherwise).
function serverTreeButtons() {
    var buttons = doc.querySelectorAll('[data-rp-open]');
    for (var i = 0; i < buttons.length; i++) {
        buttons[i].addEventListener('click', function (ev) {
            var open = ev.currentTarget.getAttribute('data-rp-open') === '1';
            var all = doc.querySelectorAll('.rp-tree details');
            for (var j = 0; j < all.length; j++) {
                all[j].open = open;
            }
        });
    }
}

var D = null;
try {
    D = JSON.parse($('rp-data').textContent);
} catch (e) {
    D = null;
}
if (!D || !D.samples || D.samples.length < 3 || !D.nodes || D.nodes.length < 4) {
    serverTreeButtons();
    return;
}

// ---- the profile -------------------------------------------------------

var IV = D.interval_us || 1000;
var T0 = D.t0_us || 0;
var OBJ = D.objects || [];
var OBJSYM = D.symbols || [];       // per object: 'own', 'debug file', 'none' or null
var FILES = D.files || [];
var PH = D.phases || [];
var NF = D.frames.length;
var fName = new Array(NF);
var fObj = new Int32Array(NF);
var fSrc = new Array(NF);
for (var fi = 0; fi < NF; fi++) {
    var fr = D.frames[fi];
    fName[fi] = String(fr[0]);
    fObj[fi] = fr[1];
    fSrc[fi] = fr[2] >= 0 && FILES[fr[2]] !== undefined ? FILES[fr[2]] + ':' + fr[3] : '';
}
var NN = D.nodes.length / 2;
var nParent = new Int32Array(NN);
var nFrame = new Int32Array(NN);
for (var ni = 0; ni < NN; ni++) {
    nParent[ni] = D.nodes[2 * ni];
    nFrame[ni] = D.nodes[2 * ni + 1];
}
var NS = D.samples.length / 3;
var sT = new Float64Array(NS);      // microseconds since the request began
var sNode = new Int32Array(NS);
var sW = new Float64Array(NS);
var sPhase = new Uint8Array(NS);
var sWait = new Uint8Array(NS);
var tAcc = T0;
for (var si = 0; si < NS; si++) {
    var code = D.samples[3 * si + 2];
    tAcc += D.samples[3 * si];
    sT[si] = tAcc;
    sNode[si] = D.samples[3 * si + 1];
    sW[si] = Math.floor(code / 32);
    sPhase[si] = Math.floor(code / 2) % 16;
    sWait[si] = code % 2;
}

var moduleOf = Object.create(null);
(D.modules || []).forEach(function (m) {
    if (!moduleOf[m[0]]) {
        moduleOf[m[0]] = m[1];
    } else if (moduleOf[m[0]].split(', ').indexOf(m[1]) < 0) {
        moduleOf[m[0]] += ', ' + m[1];
    }
});

// Objects whose frames fold into their callers (ReqProfileCollapse): the
// module decides with its one matcher (rp_collapse.c) and lists them by
// number in D.folded. The script never matches a pattern itself, so it
// folds exactly the frames the text format and the log records fold.
var objFolded = new Uint8Array(OBJ.length);
(D.folded || []).forEach(function (o) {
    if (o >= 0 && o < OBJ.length) {
        objFolded[o] = 1;
    }
});
var foldedPresent = [];
OBJ.forEach(function (name, o) {
    if (objFolded[o]) {
        foldedPresent.push(name);
    }
});

// ---- views of the tree: all frames, or folded --------------------------
//
// A view node (v) stands for one or more tree nodes: with folding, a frame
// of a folded object maps to the view node of its caller, and siblings
// that then share a function merge. Built once per mode; sample weights
// are summed per filter in aggregate().

var HIDDEN_FRAME = -2;

function buildView(showAll) {
    var vmap = new Int32Array(NN);
    var vParent = [-1];
    var vFrame = [-1];
    var vHidden = [null];               // objects folded into the node
    var kids = new Map();
    for (var n = 1; n < NN; n++) {
        var vp = vmap[nParent[n]];
        var f = nFrame[n];
        if (!showAll && f >= 0 && objFolded[fObj[f]]) {
            vmap[n] = vp;
            var h = vHidden[vp] || (vHidden[vp] = []);
            if (h.indexOf(fObj[f]) < 0) {
                h.push(fObj[f]);
            }
            continue;
        }
        var key = vp * (NF + 3) + f + 2;
        var v = kids.get(key);
        if (v === undefined) {
            v = vParent.length;
            vParent.push(vp);
            vFrame.push(f);
            vHidden.push(null);
            kids.set(key, v);
        }
        vmap[n] = v;
    }
    // Stacks of folded frames only have no caller left to fold into: they
    // show as one pseudo-frame under the root.
    var hid = -1;
    if (!showAll && vHidden[0]) {
        hid = vParent.length;
        vParent.push(0);
        vFrame.push(HIDDEN_FRAME);
        vHidden.push(vHidden[0]);
    }
    var count = vParent.length;
    var vKids = new Array(count);
    var depth = new Int32Array(count);
    for (var i = 0; i < count; i++) {
        vKids[i] = [];
    }
    for (var c = 1; c < count; c++) {
        vKids[vParent[c]].push(c);
        depth[c] = depth[vParent[c]] + 1;
    }
    return {showAll: showAll, vmap: vmap, parent: vParent, frame: vFrame,
            hidden: vHidden, kids: vKids, depth: depth, count: count, hid: hid};
}

function vName(V, v) {
    var f = V.frame[v];
    if (f === HIDDEN_FRAME) {
        return '[folded frames only]';
    }
    return f >= 0 ? fName[f] : 'all';
}

function vObj(V, v) {
    var f = V.frame[v];
    if (f === HIDDEN_FRAME) {
        return V.hidden[v].map(function (o) { return OBJ[o]; }).join(', ');
    }
    return f >= 0 ? OBJ[fObj[f]] : '';
}

// The filters: a phase, and a span of time chosen on the timeline (a
// sample counts at the middle of the interval it stands for).
function samplePasses(i) {
    if (state.phase >= 0 && sPhase[i] !== state.phase) {
        return false;
    }
    if (state.range) {
        var t = sT[i] - IV / 2;
        return t >= state.range[0] && t < state.range[1];
    }
    return true;
}

// Inclusive, self and waiting weights of every view node under the current
// filters; children sorted heaviest first.
function aggregate(V) {
    var n = V.count;
    var tot = new Float64Array(n);
    var wait = new Float64Array(n);
    var self = new Float64Array(n);
    var selfWait = new Float64Array(n);
    for (var i = 0; i < NS; i++) {
        if (!samplePasses(i)) {
            continue;
        }
        var v = V.vmap[sNode[i]];
        if (v === 0 && sNode[i] !== 0 && V.hid >= 0) {
            v = V.hid;
        }
        self[v] += sW[i];
        if (sWait[i]) {
            selfWait[v] += sW[i];
        }
    }
    tot.set(self);
    wait.set(selfWait);
    for (var c = n - 1; c > 0; c--) {
        tot[V.parent[c]] += tot[c];
        wait[V.parent[c]] += wait[c];
    }
    var sorted = new Array(n);
    for (var p = 0; p < n; p++) {
        var list = V.kids[p].filter(function (k) { return tot[k] > 0; });
        list.sort(function (a, b) {
            if (tot[a] !== tot[b]) {
                return tot[b] - tot[a];
            }
            var an = vName(V, a);
            var bn = vName(V, b);
            return an < bn ? -1 : an > bn ? 1 : 0;
        });
        sorted[p] = list;
    }
    return {V: V, tot: tot, wait: wait, self: self, selfWait: selfWait,
            kids: sorted, total: tot[0]};
}

// ---- state --------------------------------------------------------------

var state = {view: 'tree', showAll: false, phase: -1, range: null, query: '',
             zoom: 0, sort: 'incl', matchIndex: -1};
var views = {};
var aggs = {};
var dirty = {};
var drawnWidth = {};                    // view -> width it was drawn for

function current() {
    var key = state.showAll ? 'all' : 'folded';
    if (!views[key]) {
        views[key] = buildView(state.showAll);
    }
    var akey = key + ':' + state.phase + ':' + (state.range ? state.range.join('-') : '');
    if (!aggs[akey]) {
        aggs[akey] = aggregate(views[key]);
    }
    return aggs[akey];
}

// Which frames the search matches (function or object name, any case).
var frameMatch = null;

function computeMatches() {
    var q = state.query.toLowerCase();
    frameMatch = null;
    if (!q) {
        return;
    }
    frameMatch = new Uint8Array(NF);
    for (var f = 0; f < NF; f++) {
        if (fName[f].toLowerCase().indexOf(q) >= 0 ||
                OBJ[fObj[f]].toLowerCase().indexOf(q) >= 0) {
            frameMatch[f] = 1;
        }
    }
}

function vMatches(V, v) {
    if (!frameMatch) {
        return false;
    }
    var f = V.frame[v];
    if (f >= 0) {
        return frameMatch[f] === 1;
    }
    return f === HIDDEN_FRAME &&
        vObj(V, v).toLowerCase().indexOf(state.query.toLowerCase()) >= 0;
}

// ---- formatting ---------------------------------------------------------

function wMs(w) {
    return w * IV / 1000;
}

function fmtMs(ms) {
    var a = Math.abs(ms);
    return (a >= 1000 ? ms.toFixed(0) : a >= 100 ? ms.toFixed(1) :
        a >= 10 ? ms.toFixed(2) : ms.toFixed(3)) + ' ms';
}

function pct(part, whole) {
    return whole > 0 ? (100 * part / whole).toFixed(1) + '%' : '0.0%';
}

function hash(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 16777619);
    }
    return h >>> 0;
}

// A frame's colour: warm hues for the code being profiled, greens for a
// script's functions (PHP, Lua), cool greys for folded (library) objects,
// violet for the kernel.
function frameColour(V, v, A) {
    var f = V.frame[v];
    var n0 = hash(vName(V, v));
    if (A && f >= 0 && A.tot[v] > 0 && A.wait[v] >= 0.5 * A.tot[v]) {
        return 'hsl(' + (250 + n0 % 16) + ',52%,' + (74 + n0 % 8) + '%)';
    }
    if (f === HIDDEN_FRAME) {
        return 'hsl(215,14%,80%)';
    }
    if (f < 0) {
        return 'hsl(220,10%,86%)';
    }
    var obj = OBJ[fObj[f]];
    var h = hash(obj);
    var n = hash(fName[f]);
    if (obj === '[kernel]') {
        return 'hsl(265,45%,' + (76 + n % 8) + '%)';
    }
    if (obj === '[php]' || obj === '[lua]') {
        var hue = obj === '[php]' ? 128 : 160;
        return 'hsl(' + (hue + n % 20) + ',48%,' + (66 + n % 10) + '%)';
    }
    if (objFolded[fObj[f]]) {
        return 'hsl(' + (195 + h % 30) + ',22%,' + (74 + n % 10) + '%)';
    }
    return 'hsl(' + (8 + h % 44) + ',' + (72 + n % 16) + '%,' + (62 + n % 12) + '%)';
}

var PHASE_COLOURS = ['#9aa3b2', '#5fa8d3', '#62b6cb', '#1b998b', '#7bc67e',
    '#c2a83e', '#e0a458', '#c97b63', '#b56576', '#8e7dbe', '#4a7bd0',
    '#6c8ead', '#a26769', '#5c946e', '#8d6a9f', '#7a7a7a'];

function phaseColour(p) {
    return PHASE_COLOURS[p % PHASE_COLOURS.length];
}

// ---- tooltip ------------------------------------------------------------

var tip = $('rp-tip');

function showTip(ev, lines) {
    clear(tip);
    lines.forEach(function (line, i) {
        var row = el('div', i === 0 ? 'rp-tip-head' : (line.cls || ''),
            typeof line === 'string' ? line : line.text);
        tip.appendChild(row);
    });
    tip.hidden = false;
    var w = tip.offsetWidth;
    var h = tip.offsetHeight;
    var x = ev.clientX + 14;
    var y = ev.clientY + 16;
    if (x + w > window.innerWidth - 8) {
        x = Math.max(8, ev.clientX - w - 14);
    }
    if (y + h > window.innerHeight - 8) {
        y = Math.max(8, ev.clientY - h - 12);
    }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
}

function hideTip() {
    tip.hidden = true;
}

function frameTipLines(A, v, base) {
    var V = A.V;
    var f = V.frame[v];
    var obj = vObj(V, v);
    var lines = [vName(V, v)];
    if (f >= 0) {
        var mod = moduleOf[obj];
        lines.push({text: (obj || '(no object)') + (mod ? '  (' + mod + ')' : ''),
                    cls: 'rp-tip-obj'});
        if (fSrc[f]) {
            lines.push({text: fSrc[f], cls: 'rp-tip-obj'});
        }
    } else if (f === HIDDEN_FRAME) {
        lines.push({text: 'stacks whose frames all fold: ' + obj, cls: 'rp-tip-obj'});
    }
    lines.push(fmtMs(wMs(A.tot[v])) + '  ' + pct(A.tot[v], A.total) + ' of ' +
        (state.phase >= 0 ? PH[state.phase] : 'the request') +
        (base && base !== v && A.tot[base] > 0 ? ', ' + pct(A.tot[v], A.tot[base]) +
            ' of ' + vName(V, base) : ''));
    lines.push({text: 'on CPU ' + fmtMs(wMs(A.tot[v] - A.wait[v])) + ', waiting ' +
        fmtMs(wMs(A.wait[v])), cls: 'rp-tip-split'});
    if (A.self[v] > 0) {
        lines.push({text: 'self ' + fmtMs(wMs(A.self[v])) + ' (on CPU ' +
            fmtMs(wMs(A.self[v] - A.selfWait[v])) + ', waiting ' +
            fmtMs(wMs(A.selfWait[v])) + ')', cls: 'rp-tip-obj'});
    }
    if (V.hidden[v] && f !== HIDDEN_FRAME) {
        lines.push({text: 'folded in: ' + V.hidden[v].map(function (o) {
            return OBJ[o];
        }).join(', '), cls: 'rp-tip-obj'});
    }
    return lines;
}

// ---- call tree ----------------------------------------------------------

var treeBox = doc.querySelector('.rp-tree');
var treeLi = new Map();                 // view node -> its <li>
var TREE_EXPAND_LIMIT = 5000;

function barSpan(A, v) {
    var bar = el('span', 'rp-bar');
    var all = A.total || 1;
    var cpu = el('span');
    cpu.style.width = (100 * (A.tot[v] - A.wait[v]) / all).toFixed(1) + '%';
    bar.appendChild(cpu);
    if (A.wait[v] > 0) {
        var w = el('span', 'rp-bar-wait');
        w.style.width = (100 * A.wait[v] / all).toFixed(1) + '%';
        bar.appendChild(w);
    }
    return bar;
}

function treeRow(A, v, tag) {
    var V = A.V;
    var row = el(tag, 'rp-row');
    row.appendChild(el('span', 'rp-ms', wMs(A.tot[v]).toFixed(3) + ' ms'));
    row.appendChild(el('span', 'rp-pct', pct(A.tot[v], A.total)));
    row.appendChild(barSpan(A, v));
    row.appendChild(el('span', 'rp-fn', vName(V, v)));
    var obj = vObj(V, v);
    var o = el('span', 'rp-obj', obj);
    if (moduleOf[obj]) {
        o.title = moduleOf[obj];
    }
    row.appendChild(o);
    var f = V.frame[v];
    if (f >= 0 && fSrc[f]) {
        row.appendChild(el('span', 'rp-src', fSrc[f]));
    }
    if (A.self[v] > 0) {
        row.appendChild(el('span', 'rp-self', 'self ' + wMs(A.self[v]).toFixed(3) + ' ms'));
    }
    if (A.wait[v] > 0) {
        row.appendChild(el('span', 'rp-wait', 'cpu ' + wMs(A.tot[v] - A.wait[v]).toFixed(3) +
            ' ms, waiting ' + wMs(A.wait[v]).toFixed(3) + ' ms'));
    }
    if (V.hidden[v] && f !== HIDDEN_FRAME) {
        var names = V.hidden[v].map(function (x) { return OBJ[x]; });
        var hid = el('span', 'rp-folded', '+' + names.join(', '));
        hid.title = 'frames of ' + names.join(', ') + ' folded into this one';
        row.appendChild(hid);
    }
    return row;
}

function treeNode(A, v, hot) {
    var V = A.V;
    var li = el('li', 'rp-node' + (hot ? ' rp-hot' : '') + (vMatches(V, v) ? ' rp-match' : ''));
    li.setAttribute('data-func', vName(V, v));
    li.setAttribute('data-obj', vObj(V, v));
    li.setAttribute('data-total-us', String(A.tot[v] * IV));
    li.setAttribute('data-self-us', String(A.self[v] * IV));
    li.setAttribute('data-total-weight', String(A.tot[v]));
    li.setAttribute('data-self-weight', String(A.self[v]));
    li.setAttribute('data-wait-weight', String(A.wait[v]));
    li.rpV = v;
    treeLi.set(v, li);
    if (A.kids[v].length === 0) {
        li.appendChild(treeRow(A, v, 'div'));
        return li;
    }
    var d = el('details');
    d.appendChild(treeRow(A, v, 'summary'));
    li.appendChild(d);
    if (hot) {
        fillDetails(A, d, true);
        d.open = true;
    }
    return li;
}

// A node's callees are shown in batches: a call tree can have one node
// with thousands of children, which the page need not lay out at once.
var TREE_BATCH = 100;

function appendKids(A, ul, v, from, hot) {
    var kids = A.kids[v];
    var end = Math.min(kids.length, from + TREE_BATCH);
    for (var i = from; i < end; i++) {
        ul.appendChild(treeNode(A, kids[i], hot && i === 0));
    }
    if (end < kids.length) {
        var rest = 0;
        for (var j = end; j < kids.length; j++) {
            rest += A.tot[kids[j]];
        }
        var li = el('li', 'rp-more');
        var btn = el('button', 'rp-more-btn', 'show ' + Math.min(TREE_BATCH, kids.length - end) +
            ' more of ' + (kids.length - end) + ' lighter callees (' + fmtMs(wMs(rest)) + ' in all)');
        btn.type = 'button';
        btn.rpV = v;
        btn.rpFrom = end;
        li.appendChild(btn);
        ul.appendChild(li);
    }
    return end - from;
}

function moreKids(A, btn) {
    var li = btn.parentNode;
    var ul = li.parentNode;
    ul.removeChild(li);
    return appendKids(A, ul, btn.rpV, btn.rpFrom, false);
}

function fillDetails(A, d, hot) {
    if (d.rpFilled) {
        return 0;
    }
    d.rpFilled = true;
    var ul = el('ul');
    d.appendChild(ul);
    return appendKids(A, ul, d.parentNode.rpV, 0, hot);
}

function renderTree() {
    var A = current();
    treeLi = new Map();
    var ul = el('ul');
    appendKids(A, ul, 0, 0, true);
    clear(treeBox);
    treeBox.appendChild(ul);
    if (A.total === 0) {
        treeBox.appendChild(el('p', 'rp-note', 'No samples in this phase.'));
    }
    revealMatches(A);
}

treeBox.addEventListener('click', function (ev) {
    var btn = ev.target.closest('.rp-more-btn');
    if (btn) {
        moreKids(current(), btn);
    }
});

// The <li> of view node v, creating the closed or not yet shown parts of
// the tree on its path (its callers are opened).
function ensureLi(A, v) {
    if (treeLi.has(v) || v <= 0) {
        return treeLi.get(v) || null;
    }
    var p = A.V.parent[v];
    var ul;
    if (p === 0) {
        ul = treeBox.firstChild;
    } else {
        var pli = ensureLi(A, p);
        if (!pli) {
            return null;
        }
        var d = pli.firstChild;
        fillDetails(A, d, false);
        d.open = true;
        ul = d.lastChild;
    }
    while (!treeLi.has(v)) {
        var more = ul && ul.lastChild && ul.lastChild.className === 'rp-more' ?
            ul.lastChild.firstChild : null;
        if (!more) {
            return null;
        }
        moreKids(A, more);
    }
    return treeLi.get(v);
}

// Opens the ancestors of every matching node (up to a limit), creating
// the collapsed parts of the tree on the way.
function revealMatches(A) {
    var V = A.V;
    if (!frameMatch) {
        return;
    }
    var shown = 0;
    var stack = [0];
    while (stack.length && shown < 500) {
        var v = stack.pop();
        if (v !== 0 && vMatches(V, v)) {
            revealNode(A, v);
            shown++;
        }
        for (var i = A.kids[v].length - 1; i >= 0; i--) {
            stack.push(A.kids[v][i]);
        }
    }
}

function revealNode(A, v) {
    var li = ensureLi(A, v);
    for (var p = A.V.parent[v]; li && p > 0; p = A.V.parent[p]) {
        treeLi.get(p).firstChild.open = true;
    }
    return li;
}

doc.addEventListener('toggle', function (ev) {
    var d = ev.target;
    if (d.tagName === 'DETAILS' && d.open && !d.rpFilled && treeBox.contains(d)) {
        fillDetails(current(), d, false);
    }
}, true);

function expandAll(open) {
    var all;
    if (!open) {
        all = treeBox.querySelectorAll('details');
        for (var i = 0; i < all.length; i++) {
            all[i].open = false;
        }
        return;
    }
    var A = current();
    var made = treeLi.size;
    var queue = Array.prototype.slice.call(treeBox.querySelectorAll('details'));
    for (var q = 0; q < queue.length; q++) {
        var d = queue[q];
        if (!d.rpFilled) {
            if (made > TREE_EXPAND_LIMIT) {
                continue;
            }
            made += fillDetails(A, d, false);
            var inner = d.querySelectorAll('details');
            for (var j = 0; j < inner.length; j++) {
                queue.push(inner[j]);
            }
        }
        d.open = true;
    }
    if (made > TREE_EXPAND_LIMIT) {
        setStatus('The tree is large: only its first ' + TREE_EXPAND_LIMIT +
            ' nodes were expanded.');
    }
}

// ---- flame graph --------------------------------------------------------

var flameBox = $('rp-flame');
var ROW = 20;

function renderFlame() {
    var A = current();
    var V = A.V;
    clear(flameBox);
    flameBox.classList.toggle('rp-searching', !!frameMatch);
    if (A.total === 0) {
        flameBox.style.height = '';
        flameBox.appendChild(el('p', 'rp-note', 'No samples in this phase.'));
        return;
    }
    var z = state.zoom;
    if (z >= V.count || A.tot[z] === 0) {
        z = state.zoom = 0;
    }
    var W = flameBox.clientWidth || 1000;
    drawnWidth.flame = flameBox.clientWidth;
    var frag = doc.createDocumentFragment();
    var ancestors = [];
    for (var p = z; p >= 0; p = V.parent[p]) {
        ancestors.unshift(p);
        if (p === 0) {
            break;
        }
    }
    var maxDepth = 0;
    function box(v, x, w, depth, cls) {
        var b = el('div', 'rp-fl' + (cls ? ' ' + cls : '') + (vMatches(V, v) ? ' rp-fl-match' : ''));
        b.style.left = x.toFixed(2) + 'px';
        b.style.width = Math.max(w - 1, 0.5).toFixed(2) + 'px';
        b.style.top = (depth * ROW) + 'px';
        b.style.background = frameColour(V, v, A);
        b.rpV = v;
        b.setAttribute('data-func', vName(V, v));
        b.setAttribute('data-obj', vObj(V, v));
        if (w > 28) {
            var label = v === 0 ? 'all (' + fmtMs(wMs(A.total)) + ')' : vName(V, v);
            b.appendChild(el('span', 'rp-fl-label', label));
        }
        if (A.wait[v] > 0) {
            // The split of the frame's time: on CPU, then waiting.
            var split = el('span', 'rp-fl-split');
            var cpuPart = el('span', 'rp-fl-cpu');
            cpuPart.style.width = (100 * (A.tot[v] - A.wait[v]) / A.tot[v]).toFixed(1) + '%';
            split.appendChild(cpuPart);
            var waitPart = el('span', 'rp-fl-wait');
            waitPart.style.width = (100 * A.wait[v] / A.tot[v]).toFixed(1) + '%';
            split.appendChild(waitPart);
            b.appendChild(split);
        }
        frag.appendChild(b);
        if (depth > maxDepth) {
            maxDepth = depth;
        }
    }
    for (var i = 0; i < ancestors.length - 1; i++) {
        box(ancestors[i], 0, W, i, 'rp-fl-anc');
    }
    var scale = W / A.tot[z];
    (function draw(v, x, depth) {
        var w = A.tot[v] * scale;
        if (w < 0.6) {
            return;
        }
        box(v, x, w, depth, v === z && z !== 0 ? 'rp-fl-zoom' : '');
        var cx = x;
        var kids = A.kids[v];
        for (var k = 0; k < kids.length; k++) {
            draw(kids[k], cx, depth + 1);
            cx += A.tot[kids[k]] * scale;
        }
    })(z, 0, ancestors.length - 1);
    flameBox.style.height = ((maxDepth + 1) * ROW + 2) + 'px';
    flameBox.appendChild(frag);
    $('rp-flame-reset').disabled = z === 0;
}

flameBox.addEventListener('click', function (ev) {
    var b = ev.target.closest('.rp-fl');
    if (!b) {
        return;
    }
    state.zoom = b.rpV === state.zoom && b.rpV !== 0 ? current().V.parent[b.rpV] : b.rpV;
    renderFlame();
});

flameBox.addEventListener('mousemove', function (ev) {
    var b = ev.target.closest('.rp-fl');
    if (!b) {
        hideTip();
        return;
    }
    showTip(ev, frameTipLines(current(), b.rpV, state.zoom));
});
flameBox.addEventListener('mouseleave', hideTip);

$('rp-flame-reset').addEventListener('click', function () {
    state.zoom = 0;
    renderFlame();
});

// ---- timeline -----------------------------------------------------------

var tlBox = $('rp-timeline');

function niceStep(span, target) {
    var raw = span / target;
    var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) {
        if (steps[i] * mag >= raw) {
            return steps[i] * mag;
        }
    }
    return 10 * mag;
}

// Buckets of samples over time since the request began: on-CPU and waiting
// weight (of samples the filter keeps), weight filtered out, the dominant
// phase and the heaviest stack (its view node).
function timelineBuckets(A, count) {
    var V = A.V;
    var end = 0;
    for (var i = 0; i < NS; i++) {
        end = Math.max(end, sT[i]);
    }
    (D.spans || []).forEach(function (s) {
        if (s) {
            end = Math.max(end, s[0] + s[1]);
        }
    });
    end = Math.max(end, IV);
    var n = Math.max(1, Math.min(count, Math.ceil(end / IV)));
    var width = end / n;
    var B = [];
    for (var b = 0; b < n; b++) {
        B.push({t0: b * width, t1: (b + 1) * width, cpu: 0, wait: 0, out: 0,
                phases: {}, leaves: new Map(), match: 0});
    }
    var prev = T0;
    for (var s = 0; s < NS; s++) {
        // A sample stands for the interval(s) before it was taken: its
        // weight is spread over the buckets they cover, back to the
        // previous sample at most (a late sample's weight may stand for
        // more intervals than have passed since).
        var t1 = sT[s];
        var t0 = Math.max(prev, t1 - sW[s] * IV);
        prev = t1;
        var k0 = Math.min(n - 1, Math.floor(t0 / width));
        var k1 = Math.min(n - 1, Math.max(k0, Math.ceil(t1 / width) - 1));
        var v = V.vmap[sNode[s]];
        if (v === 0 && sNode[s] !== 0 && V.hid >= 0) {
            v = V.hid;
        }
        var passes = samplePasses(s);
        var matches = passes && frameMatch && pathMatches(V, v);
        for (var k = k0; k <= k1; k++) {
            var part = sW[s];
            if (k1 > k0) {
                part *= (Math.min(t1, (k + 1) * width) - Math.max(t0, k * width)) / (t1 - t0);
            }
            var bk = B[k];
            bk.phases[sPhase[s]] = (bk.phases[sPhase[s]] || 0) + part;
            if (!passes) {
                bk.out += part;
                continue;
            }
            if (sWait[s]) {
                bk.wait += part;
            } else {
                bk.cpu += part;
            }
            bk.leaves.set(v, (bk.leaves.get(v) || 0) + part);
            if (matches) {
                bk.match += part;
            }
        }
    }
    B.forEach(function (bk) {
        var best = -1;
        var bw = 0;
        Object.keys(bk.phases).forEach(function (p) {
            if (bk.phases[p] > bw) {
                bw = bk.phases[p];
                best = +p;
            }
        });
        bk.phase = best;
        var leaf = -1;
        var lw = 0;
        bk.leaves.forEach(function (w, v) {
            if (w > lw) {
                lw = w;
                leaf = v;
            }
        });
        bk.leaf = leaf;
    });
    return {buckets: B, end: end, width: width};
}

var pathMatchCache = null;

function pathMatches(V, v) {
    if (!pathMatchCache || pathMatchCache.V !== V || pathMatchCache.q !== state.query) {
        var m = new Uint8Array(V.count);
        for (var i = 1; i < V.count; i++) {
            m[i] = m[V.parent[i]] || vMatches(V, i) ? 1 : 0;
        }
        pathMatchCache = {V: V, q: state.query, m: m};
    }
    return pathMatchCache.m[v] === 1;
}

var tlState = null;

function renderTimeline() {
    var A = current();
    var V = A.V;
    clear(tlBox);
    drawnWidth.timeline = tlBox.clientWidth;
    var W = Math.max(200, tlBox.clientWidth - 16 - 112);
    var T = timelineBuckets(A, Math.floor(W / 4));
    var B = T.buckets;
    var n = B.length;
    var colW = W / n;
    tlState = {A: A, T: T, W: W, left: 110};

    function lane(label, cls, height) {
        var row = el('div', 'rp-tl-lane ' + cls);
        row.appendChild(el('div', 'rp-tl-name', label));
        var body = el('div', 'rp-tl-body');
        body.style.width = W + 'px';
        body.style.height = height + 'px';
        row.appendChild(body);
        tlBox.appendChild(row);
        return body;
    }

    // Axis.
    var axis = lane('ms', 'rp-tl-axis', 18);
    var step = niceStep(T.end / 1000, Math.max(2, Math.floor(W / 90)));
    for (var t = 0; t <= T.end / 1000 + 1e-9; t += step) {
        var x = W * t * 1000 / T.end;
        if (x > W - 24) {
            break;                      // no label hanging past the end
        }
        var tick = el('span', 'rp-tl-tick', (step < 1 ? t.toFixed(1) : t.toFixed(0)));
        tick.style.left = x.toFixed(1) + 'px';
        axis.appendChild(tick);
    }

    // On CPU vs waiting, per bucket.
    var strip = lane('samples', 'rp-tl-samples', 44);
    var maxW = 0;
    B.forEach(function (b) {
        maxW = Math.max(maxW, b.cpu + b.wait + b.out);
    });
    B.forEach(function (b, i) {
        var col = el('div', 'rp-tl-b');
        col.style.left = (i * colW).toFixed(2) + 'px';
        col.style.width = Math.max(colW - (colW > 3 ? 1 : 0), 0.5).toFixed(2) + 'px';
        col.setAttribute('data-cpu', String(+b.cpu.toFixed(3)));
        col.setAttribute('data-wait', String(+b.wait.toFixed(3)));
        col.setAttribute('data-t0-ms', (b.t0 / 1000).toFixed(3));
        var all = b.cpu + b.wait + b.out;
        if (all === 0) {
            col.classList.add('rp-tl-none');
        } else {
            if (b.cpu > 0) {
                col.classList.add('rp-tl-has-cpu');
            }
            if (b.wait > 0) {
                col.classList.add('rp-tl-has-wait');
            }
            [['rp-tl-cpu', b.cpu], ['rp-tl-wait', b.wait], ['rp-tl-out', b.out]].forEach(function (part) {
                if (part[1] > 0) {
                    var seg = el('div', part[0]);
                    seg.style.height = (100 * part[1] / all).toFixed(1) + '%';
                    col.appendChild(seg);
                }
            });
        }
        if (b.match > 0) {
            col.classList.add('rp-tl-match');
        }
        strip.appendChild(col);
    });

    // Phase of each bucket (the one most of its samples were taken in).
    var phaseLane = lane('phase', 'rp-tl-phase', 18);
    var runStart = 0;
    for (var i = 1; i <= n; i++) {
        if (i < n && B[i].phase === B[runStart].phase) {
            continue;
        }
        var p = B[runStart].phase;
        if (p >= 0) {
            var seg = el('div', 'rp-tl-ph' + (state.phase >= 0 && state.phase !== p ? ' rp-tl-dim' : ''));
            seg.style.left = (runStart * colW).toFixed(2) + 'px';
            seg.style.width = Math.max((i - runStart) * colW - 1, 1).toFixed(2) + 'px';
            seg.style.background = phaseColour(p);
            seg.setAttribute('data-phase', PH[p]);
            if ((i - runStart) * colW > 8 * PH[p].length) {
                seg.appendChild(el('span', '', PH[p]));
            }
            phaseLane.appendChild(seg);
        }
        runStart = i;
    }

    // What ran: the heaviest stack of each bucket, as a flame chart over
    // time (equal frames in neighbouring buckets merge).
    var depthMax = 0;
    var paths = B.map(function (b) {
        var path = [];
        for (var v = b.leaf; v > 0; v = V.parent[v]) {
            path.unshift(v);
        }
        depthMax = Math.max(depthMax, path.length);
        return path;
    });
    depthMax = Math.min(depthMax, 40);
    var stack = lane('stack', 'rp-tl-stack', Math.max(depthMax, 1) * 16);
    for (var d = 0; d < depthMax; d++) {
        var start = 0;
        for (var j = 1; j <= n; j++) {
            var cur = paths[start][d];
            if (j < n && paths[j][d] === cur && cur !== undefined) {
                continue;
            }
            if (cur !== undefined) {
                var w = (j - start) * colW;
                var fb = el('div', 'rp-tl-fr' + (vMatches(V, cur) ? ' rp-fl-match' : ''));
                fb.style.left = (start * colW).toFixed(2) + 'px';
                fb.style.width = Math.max(w - 1, 0.5).toFixed(2) + 'px';
                fb.style.top = (d * 16) + 'px';
                fb.style.background = frameColour(V, cur, A);
                fb.rpV = cur;
                fb.setAttribute('data-func', vName(V, cur));
                if (w > 30) {
                    fb.appendChild(el('span', '', vName(V, cur)));
                }
                stack.appendChild(fb);
            }
            start = j;
        }
    }
    stack.classList.toggle('rp-searching', !!frameMatch);

    if (state.range) {
        showRangeOverlay(strip, state.range[0], state.range[1], 'rp-tl-sel');
    }

    var legend = el('div', 'rp-legend');
    [['rp-sw-cpu', 'on CPU'], ['rp-sw-wait', 'waiting'], ['rp-sw-out', 'filtered out'],
     ['rp-sw-none', 'no sample']].forEach(function (item) {
        if (item[0] === 'rp-sw-out' && state.phase < 0 && !state.range) {
            return;
        }
        var span = el('span', 'rp-legend-item');
        span.appendChild(el('i', 'rp-sw ' + item[0]));
        span.appendChild(doc.createTextNode(item[1]));
        legend.appendChild(span);
    });
    legend.appendChild(el('span', 'rp-note', 'Time since httpd read the request; ' + n +
        ' buckets of ' + fmtMs(T.width / 1000) + '. "stack" shows the heaviest stack of each bucket.' +
        ' Drag across it to keep only that span of time in every view.'));
    tlBox.appendChild(legend);
}

// A span of the timeline, in microseconds since the request began, drawn
// over a lane's body.
function showRangeOverlay(body, t0, t1, cls) {
    var old = body.querySelector('.' + cls);
    if (old) {
        body.removeChild(old);
    }
    var W = tlState.W;
    var x0 = Math.max(0, W * t0 / tlState.T.end);
    var x1 = Math.min(W, W * t1 / tlState.T.end);
    var box = el('div', cls);
    box.style.left = x0.toFixed(1) + 'px';
    box.style.width = Math.max(x1 - x0, 1).toFixed(1) + 'px';
    body.appendChild(box);
}

function timeAt(body, clientX) {
    var x = clientX - body.getBoundingClientRect().left;
    return Math.max(0, Math.min(tlState.T.end, x / tlState.W * tlState.T.end));
}

// Dragging across any lane chooses a span; a click without a drag is not
// a choice (the tooltips stay as they are).
var tlDrag = null;

tlBox.addEventListener('mousedown', function (ev) {
    var body = ev.target.closest('.rp-tl-body');
    if (!tlState || !body || ev.button !== 0) {
        return;
    }
    ev.preventDefault();
    tlDrag = {body: tlBox.querySelector('.rp-tl-samples .rp-tl-body'), x: ev.clientX,
              t: timeAt(body, ev.clientX)};
});

doc.addEventListener('mousemove', function (ev) {
    if (!tlDrag || Math.abs(ev.clientX - tlDrag.x) < 3) {
        return;
    }
    var t = timeAt(tlDrag.body, ev.clientX);
    showRangeOverlay(tlDrag.body, Math.min(t, tlDrag.t), Math.max(t, tlDrag.t), 'rp-tl-dragging');
});

doc.addEventListener('mouseup', function (ev) {
    if (!tlDrag) {
        return;
    }
    var drag = tlDrag;
    tlDrag = null;
    if (Math.abs(ev.clientX - drag.x) < 3) {
        var ghost = drag.body.querySelector('.rp-tl-dragging');
        if (ghost) {
            drag.body.removeChild(ghost);
        }
        return;
    }
    var t = timeAt(drag.body, ev.clientX);
    setRange([Math.min(t, drag.t), Math.max(t, drag.t)]);
});

tlBox.addEventListener('mousemove', function (ev) {
    if (!tlState) {
        return;
    }
    var body = ev.target.closest('.rp-tl-body');
    if (!body) {
        hideTip();
        return;
    }
    var x = ev.clientX - body.getBoundingClientRect().left;
    var B = tlState.T.buckets;
    var k = Math.floor(x / (tlState.W / B.length));
    if (k < 0 || k >= B.length) {
        hideTip();
        return;
    }
    var b = B[k];
    var A = tlState.A;
    var lines = [(b.t0 / 1000).toFixed(1) + ' to ' + (b.t1 / 1000).toFixed(1) + ' ms'];
    lines.push('phase: ' + (b.phase >= 0 ? PH[b.phase] : 'no sample'));
    lines.push({text: 'on CPU ' + fmtMs(wMs(b.cpu)) + ', waiting ' + fmtMs(wMs(b.wait)) +
        (b.out > 0 ? ', filtered out ' + fmtMs(wMs(b.out)) : ''), cls: 'rp-tip-split'});
    var fr = ev.target.closest('.rp-tl-fr');
    if (fr) {
        lines.push('frame: ' + vName(A.V, fr.rpV) + '  (' + vObj(A.V, fr.rpV) + ')');
    }
    if (b.leaf >= 0) {
        lines.push({text: 'leaf: ' + vName(A.V, b.leaf) + '  (' + vObj(A.V, b.leaf) + ')',
                    cls: 'rp-tip-obj'});
        var path = [];
        for (var v = b.leaf; v > 0; v = A.V.parent[v]) {
            path.unshift(vName(A.V, v));
        }
        lines.push({text: 'stack: ' + (path.length > 6 ? '... > ' : '') +
            path.slice(-6).join(' > '), cls: 'rp-tip-obj'});
    }
    showTip(ev, lines);
});
tlBox.addEventListener('mouseleave', hideTip);

// ---- time per module ----------------------------------------------------

var modBox = $('rp-modules');
var pathObjs = null;

function renderModules() {
    if (!pathObjs) {
        pathObjs = new Array(NN);
        pathObjs[0] = [];
        for (var n = 1; n < NN; n++) {
            var up = pathObjs[nParent[n]];
            var o = nFrame[n] >= 0 ? fObj[nFrame[n]] : -1;
            pathObjs[n] = o < 0 || up.indexOf(o) >= 0 ? up : up.concat([o]);
        }
    }
    var incl = new Float64Array(OBJ.length);
    var inclWait = new Float64Array(OBJ.length);
    var self = new Float64Array(OBJ.length);
    var selfWait = new Float64Array(OBJ.length);
    var total = 0;
    for (var i = 0; i < NS; i++) {
        if (!samplePasses(i)) {
            continue;
        }
        var w = sW[i];
        var wt = sWait[i] ? w : 0;
        total += w;
        var objs = pathObjs[sNode[i]];
        for (var j = 0; j < objs.length; j++) {
            incl[objs[j]] += w;
            inclWait[objs[j]] += wt;
        }
        var f = nFrame[sNode[i]];
        if (f >= 0) {
            self[fObj[f]] += w;
            selfWait[fObj[f]] += wt;
        }
    }
    var rows = [];
    for (var o = 0; o < OBJ.length; o++) {
        if (incl[o] > 0) {
            rows.push(o);
        }
    }
    var key = state.sort;
    rows.sort(function (a, b) {
        if (key === 'name') {
            return OBJ[a] < OBJ[b] ? -1 : OBJ[a] > OBJ[b] ? 1 : 0;
        }
        var x = key === 'self' ? self : incl;
        return x[b] - x[a] || incl[b] - incl[a] || (OBJ[a] < OBJ[b] ? -1 : 1);
    });
    clear(modBox);
    if (total === 0) {
        modBox.appendChild(el('p', 'rp-note', 'No samples in this phase.'));
        return;
    }
    var table = el('table', 'rp-modtable');
    var head = el('tr');
    [['name', 'shared object'], [null, 'httpd module'], ['incl', 'inclusive'], [null, 'on CPU'],
     [null, 'waiting'], ['self', 'self'], [null, 'on CPU'], [null, 'waiting'],
     [null, 'symbols']].forEach(function (h) {
        var th = el('th');
        if (h[0]) {
            var btn = el('button', 'rp-sort' + (key === h[0] ? ' rp-sorted' : ''),
                h[1] + (key === h[0] ? (h[0] === 'name' ? ' \u25b4' : ' \u25be') : ''));
            btn.type = 'button';
            btn.setAttribute('data-sort', h[0]);
            th.appendChild(btn);
        } else {
            th.textContent = h[1];
        }
        head.appendChild(th);
    });
    var thead = el('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var tbody = el('tbody');
    var q = state.query.toLowerCase();
    rows.forEach(function (o) {
        var name = OBJ[o];
        var tr = el('tr', (objFolded[o] ? 'rp-lib' : '') +
            (q && (name.toLowerCase().indexOf(q) >= 0 ||
                (moduleOf[name] || '').toLowerCase().indexOf(q) >= 0) ? ' rp-match' : ''));
        tr.setAttribute('data-obj', name);
        tr.setAttribute('data-module', moduleOf[name] || '');
        tr.setAttribute('data-incl-weight', String(incl[o]));
        tr.setAttribute('data-self-weight', String(self[o]));
        tr.setAttribute('data-symbols', OBJSYM[o] || '');
        var nameCell = el('td', 'rp-mod-obj', name || '(none)');
        if (objFolded[o]) {
            nameCell.appendChild(el('span', 'rp-tag', 'folded'));
        }
        tr.appendChild(nameCell);
        tr.appendChild(el('td', 'rp-mod-name', moduleOf[name] || ''));
        var inclCell = el('td', 'rp-mod-incl');
        var bar = el('span', 'rp-bar');
        var cpu = el('span');
        cpu.style.width = (100 * (incl[o] - inclWait[o]) / total).toFixed(1) + '%';
        bar.appendChild(cpu);
        if (inclWait[o] > 0) {
            var wb = el('span', 'rp-bar-wait');
            wb.style.width = (100 * inclWait[o] / total).toFixed(1) + '%';
            bar.appendChild(wb);
        }
        inclCell.appendChild(bar);
        inclCell.appendChild(doc.createTextNode(' ' + fmtMs(wMs(incl[o])) + ' '));
        inclCell.appendChild(el('span', 'rp-mod-pct', pct(incl[o], total)));
        tr.appendChild(inclCell);
        tr.appendChild(el('td', 'rp-mod-cpu', fmtMs(wMs(incl[o] - inclWait[o]))));
        tr.appendChild(el('td', 'rp-mod-wait', fmtMs(wMs(inclWait[o]))));
        var selfCell = el('td', 'rp-mod-self', fmtMs(wMs(self[o])) + ' ');
        selfCell.appendChild(el('span', 'rp-mod-pct', pct(self[o], total)));
        tr.appendChild(selfCell);
        tr.appendChild(el('td', 'rp-mod-cpu', fmtMs(wMs(self[o] - selfWait[o]))));
        tr.appendChild(el('td', 'rp-mod-wait', fmtMs(wMs(selfWait[o]))));
        tr.appendChild(el('td', 'rp-mod-sym' + (OBJSYM[o] === 'none' ? ' rp-mod-nosym' : ''),
            OBJSYM[o] || ''));
        tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    modBox.appendChild(table);
    modBox.appendChild(el('p', 'rp-note', 'Inclusive: samples with at least one frame in the ' +
        'object (each counted once). Self: samples whose innermost frame is in it. Over full ' +
        'stacks: folding does not apply here; folded objects are tagged. Symbols: where the ' +
        'function names came from (the object\'s own symbol table, its separate debug file, or ' +
        'none: offsets only).'));
}

modBox.addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-sort]');
    if (b) {
        state.sort = b.getAttribute('data-sort');
        renderModules();
    }
});

// ---- controls -------------------------------------------------------------

var RENDER = {tree: renderTree, flame: renderFlame, timeline: renderTimeline,
              modules: renderModules};
var VIEW_NAMES = ['tree', 'flame', 'timeline', 'modules'];

function setStatus(text) {
    $('rp-search-count').textContent = text;
}

function refresh(all) {
    VIEW_NAMES.forEach(function (name) {
        dirty[name] = true;
    });
    if (all !== false) {
        RENDER[state.view]();
        dirty[state.view] = false;
    }
}

function showView(name) {
    if (!RENDER[name]) {
        name = 'tree';
    }
    state.view = name;
    hideTip();
    VIEW_NAMES.forEach(function (v) {
        $('rp-view-' + v).hidden = v !== name;
    });
    var tabs = doc.querySelectorAll('[data-rp-tab]');
    for (var i = 0; i < tabs.length; i++) {
        tabs[i].setAttribute('aria-selected', String(tabs[i].getAttribute('data-rp-tab') === name));
    }
    if (dirty[name] !== false) {
        RENDER[name]();
        dirty[name] = false;
    }
    try {
        history.replaceState(null, '', '#' + name);
    } catch (e) {
        // a page opened from a file or a sandbox: the hash is a nicety
    }
}

function describeMatches() {
    if (!frameMatch) {
        setStatus('');
        return;
    }
    var A = current();
    var n = 0;
    var w = 0;
    var m = new Uint8Array(A.V.count);
    for (var v = 1; v < A.V.count; v++) {
        if (A.tot[v] > 0 && vMatches(A.V, v)) {
            n++;
            // count each sample once: only outermost matches
            var inner = false;
            for (var p = A.V.parent[v]; p > 0; p = A.V.parent[p]) {
                if (m[p]) {
                    inner = true;
                    break;
                }
            }
            m[v] = 1;
            if (!inner) {
                w += A.tot[v];
            }
        }
    }
    setStatus(n === 0 ? 'no match' : n + ' frame' + (n === 1 ? '' : 's') + ', ' +
        fmtMs(wMs(w)) + ' (' + pct(w, A.total) + ')');
}

function applySearch() {
    state.query = $('rp-search').value.trim();
    state.matchIndex = -1;
    computeMatches();
    describeMatches();
    refresh();
}

var searchTimer = 0;
$('rp-search').addEventListener('input', function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applySearch, 120);
});
$('rp-search').addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') {
        ev.target.value = '';
        applySearch();
    } else if (ev.key === 'Enter') {
        clearTimeout(searchTimer);
        if (state.query !== ev.target.value.trim()) {
            applySearch();
        }
        nextMatch();
    }
});

// Enter in the search box: the next match in the tree, scrolled to.
function nextMatch() {
    if (!frameMatch || state.view !== 'tree') {
        return;
    }
    var A = current();
    var list = [];
    (function walk(v) {
        if (v !== 0 && vMatches(A.V, v)) {
            list.push(v);
        }
        A.kids[v].forEach(walk);
    })(0);
    if (!list.length) {
        return;
    }
    state.matchIndex = (state.matchIndex + 1) % list.length;
    var li = revealNode(A, list[state.matchIndex]);
    if (li) {
        var prev = treeBox.querySelector('.rp-current');
        if (prev) {
            prev.classList.remove('rp-current');
        }
        li.classList.add('rp-current');
        li.firstChild.scrollIntoView({block: 'center'});
    }
}

var phaseSelect = $('rp-phase-filter');
(function () {
    var weight = new Float64Array(PH.length);
    var all = 0;
    for (var i = 0; i < NS; i++) {
        weight[sPhase[i]] += sW[i];
        all += sW[i];
    }
    phaseSelect.options[0].textContent = 'all phases (' + fmtMs(wMs(all)) + ')';
    PH.forEach(function (name, p) {
        if (weight[p] > 0) {
            var opt = el('option', '', name + ' (' + fmtMs(wMs(weight[p])) + ')');
            opt.value = String(p);
            phaseSelect.appendChild(opt);
        }
    });
})();

function setPhase(p) {
    state.phase = p;
    state.zoom = 0;
    phaseSelect.value = p < 0 ? '' : String(p);
    var rows = doc.querySelectorAll('tr[data-phase]');
    for (var i = 0; i < rows.length; i++) {
        rows[i].classList.toggle('rp-sel', p >= 0 && rows[i].getAttribute('data-phase') === PH[p]);
    }
    describeMatches();
    refresh();
}

var rangeBox = $('rp-range');

function setRange(range) {
    state.range = range;
    state.zoom = 0;
    rangeBox.hidden = !range;
    if (range) {
        $('rp-range-text').textContent = (range[0] / 1000).toFixed(1) + ' to ' +
            (range[1] / 1000).toFixed(1) + ' ms';
    }
    describeMatches();
    refresh();
}

$('rp-range-clear').addEventListener('click', function () {
    setRange(null);
});

phaseSelect.addEventListener('change', function () {
    setPhase(phaseSelect.value === '' ? -1 : +phaseSelect.value);
});

// A row of the phases table filters by its phase (again: all phases).
(function () {
    var rows = doc.querySelectorAll('tr[data-phase]');
    for (var i = 0; i < rows.length; i++) {
        var p = PH.indexOf(rows[i].getAttribute('data-phase'));
        if (p < 0 || !phaseSelect.querySelector('option[value="' + p + '"]')) {
            continue;
        }
        rows[i].classList.add('rp-clickable');
        rows[i].title = 'Show only the samples of this phase';
        rows[i].addEventListener('click', function (ev) {
            var q = PH.indexOf(ev.currentTarget.getAttribute('data-phase'));
            setPhase(q === state.phase ? -1 : q);
        });
    }
})();

$('rp-show-all').addEventListener('change', function (ev) {
    state.showAll = ev.target.checked;
    state.zoom = 0;
    updateFoldNote();
    describeMatches();
    refresh();
});

function updateFoldNote() {
    var note = $('rp-collapse-note');
    if (!foldedPresent.length) {
        note.textContent = 'no frames to fold';
        $('rp-show-all').disabled = true;
        return;
    }
    note.textContent = (state.showAll ? 'would fold: ' : 'folded into callers: ') +
        foldedPresent.join(', ');
    note.title = 'ReqProfileCollapse ' + (D.collapse || []).join(' ');
}

var openButtons = doc.querySelectorAll('[data-rp-open]');
for (var bi = 0; bi < openButtons.length; bi++) {
    openButtons[bi].addEventListener('click', function (ev) {
        expandAll(ev.currentTarget.getAttribute('data-rp-open') === '1');
    });
}

var tabButtons = doc.querySelectorAll('[data-rp-tab]');
for (var ti = 0; ti < tabButtons.length; ti++) {
    tabButtons[ti].addEventListener('click', function (ev) {
        showView(ev.currentTarget.getAttribute('data-rp-tab'));
    });
}

// The flame graph and the timeline are laid out for their width: drawn
// again when it changes (not when only the height does, as while a page
// is printed or captured).
var resizeTimer = 0;
window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
        ['flame', 'timeline'].forEach(function (v) {
            var box = v === 'flame' ? flameBox : tlBox;
            if (state.view === v && box.clientWidth !== drawnWidth[v]) {
                RENDER[v]();
                dirty[v] = false;
            } else if (state.view !== v) {
                dirty[v] = true;
            }
        });
    }, 150);
});

doc.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && state.range) {
        setRange(null);
        return;
    }
    if (ev.key === '/' && doc.activeElement !== $('rp-search') &&
            !(doc.activeElement && /^(INPUT|SELECT|TEXTAREA)$/.test(doc.activeElement.tagName))) {
        ev.preventDefault();
        $('rp-search').focus();
    }
});

// ---- start ----------------------------------------------------------------

doc.documentElement.classList.add('rp-js');
$('rp-app').hidden = false;
updateFoldNote();
refresh(false);
var initial = (location.hash || '').replace(/^#/, '');
showView(RENDER[initial] ? initial : 'tree');
})();
