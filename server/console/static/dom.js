// dom.js: building the page without HTML strings. Every piece of data is
// put in the page as text (textContent) or as an attribute value, never
// parsed as HTML, so names devices send are shown exactly as sent.
"use strict";

// h makes an element: h("a", {href: "#/x", class: "c"}, "text", child, ...).
// Attributes starting with "on" are event listeners; null/false are left out.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace empties el and puts children in it.
function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + " " + u[i];
}

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  if (isNaN(d)) return String(s);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function ago(s) {
  const d = new Date(s);
  if (isNaN(d)) return "";
  const sec = Math.round((Date.now() - d.getTime()) / 1000);
  if (sec < 60) return sec + " s ago";
  if (sec < 3600) return Math.round(sec / 60) + " min ago";
  if (sec < 86400) return Math.round(sec / 3600) + " h ago";
  return Math.round(sec / 86400) + " d ago";
}

function table(headers, rows, opts) {
  opts = opts || {};
  const head = h("tr", {}, headers.map((x) => {
    const [label, cls] = Array.isArray(x) ? x : [x, null];
    return h("th", { class: cls }, label);
  }));
  const body = rows.length
    ? rows
    : [h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, opts.empty || "Nothing yet."))];
  return h("table", { "data-testid": opts.testid }, h("thead", {}, head), h("tbody", {}, body));
}
