// The documentation site of an Interlace project: data.js sets window.INTERLACE_DOCS.
// Everything the project wrote (names, descriptions, SQL) is set as text, never as HTML.
(function () {
  "use strict";
  var data = window.INTERLACE_DOCS;
  var nav = document.getElementById("models");
  var main = document.getElementById("content");
  var search = document.getElementById("search");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function table(headers, rows) {
    var t = el("table"), tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", h)); });
    t.appendChild(tr);
    rows.forEach(function (row) {
      var r = el("tr");
      row.forEach(function (cell) {
        var td = el("td");
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell === null || cell === undefined ? "" : String(cell);
        r.appendChild(td);
      });
      t.appendChild(r);
    });
    return t;
  }
  var SVG = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }
  // a layered layout: columns by distance from the model (upstream left, downstream right)
  function graph(centers, edges, id) {
    var depth = {};
    centers.forEach(function (c) { depth[c] = 0; });
    var changed = true, guard = 0;
    while (changed && guard++ < 50) {
      changed = false;
      edges.forEach(function (e) {
        if (depth[e[1]] !== undefined && depth[e[0]] === undefined && depth[e[1]] <= 0) { depth[e[0]] = depth[e[1]] - 1; changed = true; }
        if (depth[e[0]] !== undefined && depth[e[1]] === undefined && depth[e[0]] >= 0) { depth[e[1]] = depth[e[0]] + 1; changed = true; }
      });
    }
    var layers = {};
    Object.keys(depth).forEach(function (n) { (layers[depth[n]] = layers[depth[n]] || []).push(n); });
    var keys = Object.keys(layers).map(Number).sort(function (a, b) { return a - b; });
    var pos = {}, w = 170, h = 26, gapX = 60, gapY = 12, maxRows = 1;
    keys.forEach(function (k, i) {
      layers[k].sort().forEach(function (n, j) { pos[n] = { x: 10 + i * (w + gapX), y: 10 + j * (h + gapY) }; });
      maxRows = Math.max(maxRows, layers[k].length);
    });
    var svg = svgEl("svg", { width: 20 + keys.length * (w + gapX), height: 20 + maxRows * (h + gapY), id: id });
    edges.forEach(function (e) {
      var a = pos[e[0]], b = pos[e[1]];
      if (!a || !b) return;
      var x1 = a.x + w, y1 = a.y + h / 2, x2 = b.x, y2 = b.y + h / 2, mx = (x1 + x2) / 2;
      svg.appendChild(svgEl("path", { d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 }));
    });
    Object.keys(pos).forEach(function (n) {
      var g = svgEl("g", { "data-node": n });
      g.appendChild(svgEl("rect", { x: pos[n].x, y: pos[n].y, width: w, height: h, rx: 4, "class": depth[n] === 0 ? "here" : "" }));
      g.appendChild(svgEl("text", { x: pos[n].x + 6, y: pos[n].y + 17 }, n.length > 28 ? n.slice(0, 27) + "…" : n));
      svg.appendChild(g);
    });
    return svg;
  }
  // the column edges upstream and downstream of the starting columns, transitively
  function reachable(starts, edges) {
    var found = [], seen = {};
    [[0, 1], [1, 0]].forEach(function (way) {
      var frontier = starts.slice(), visited = {};
      starts.forEach(function (s) { visited[s] = true; });
      while (frontier.length) {
        var node = frontier.pop();
        edges.forEach(function (e) {
          if (e[way[1]] !== node) return;
          var key = e[0] + ">" + e[1];
          if (!seen[key]) { seen[key] = true; found.push(e); }
          if (!visited[e[way[0]]]) { visited[e[way[0]]] = true; frontier.push(e[way[0]]); }
        });
      }
    });
    return found;
  }
  function show(name) {
    var m = data.models[name];
    if (!m) return;
    Array.prototype.forEach.call(nav.querySelectorAll("a"), function (a) { a.classList.toggle("active", a.dataset.model === name); });
    main.innerHTML = "";
    main.appendChild(el("h1", m.name));
    main.appendChild(el("p", m.description || "(no description)", m.description ? "description" : "muted"));
    main.appendChild(table(["kind", "materialize", "strategy", "schema", "primary key", "tags", "owner", "file"],
      [[m.kind, m.materialize, m.strategy, m.schema, (m.primary_key || []).join(", "), (m.tags || []).join(", "), m.owner, m.file]]));
    main.appendChild(el("h2", "Columns"));
    var lineage = m.lineage || {};
    if (lineage.status !== "known") main.appendChild(el("p", "lineage " + lineage.status + (lineage.reason ? ": " + lineage.reason : ""), "muted"));
    main.appendChild(table(["column", "type", "description", "from"], (m.columns || []).map(function (c) {
      return [c.name, c.type, c.description, (c.sources || []).join(", ")];
    })));
    main.appendChild(el("h2", "Lineage"));
    main.appendChild(graph([m.name], data.model_edges, "table-lineage"));
    var starts = (m.columns || []).map(function (c) { return m.name + "." + c.name; });
    var columnEdges = reachable(starts, data.column_edges);
    if (columnEdges.length) {
      main.appendChild(el("h3", "Column lineage"));
      main.appendChild(graph(starts, columnEdges, "column-lineage"));
    }
    main.appendChild(el("h2", "Checks"));
    main.appendChild((m.checks || []).length ? table(["check", "last status", "failing rows"], m.checks.map(function (c) {
      return [c.name, el("span", c.status || "not run", c.status || "muted"), c.failing_rows];
    })) : el("p", "no checks declared", "muted"));
    main.appendChild(el("h2", "Schema history"));
    main.appendChild((m.schema_history || []).length ? table(["version", "columns", "change"], m.schema_history.map(function (v) {
      return [v.version, v.columns.join(", "), v.change];
    })) : el("p", "not built yet", "muted"));
    main.appendChild(el("h2", m.sql !== null && m.sql !== undefined ? "SQL" : "Source"));
    main.appendChild(el("pre", m.sql || m.source || ""));
    if (location.hash !== "#" + encodeURIComponent(name)) history.replaceState(null, "", "#" + encodeURIComponent(name));
  }
  function list(filter) {
    nav.innerHTML = "";
    var q = (filter || "").toLowerCase();
    data.search.forEach(function (entry) {
      if (q && entry.text.indexOf(q) < 0) return;
      var a = el("a", entry.model);
      a.dataset.model = entry.model;
      a.addEventListener("click", function () { show(entry.model); });
      nav.appendChild(a);
    });
  }
  search.addEventListener("input", function () { list(search.value); });
  document.getElementById("project").textContent = data.project + " [" + data.env + "]";
  list("");
  var first = decodeURIComponent(location.hash.slice(1)) || data.search.length && data.search[0].model;
  if (first) show(first);
})();
