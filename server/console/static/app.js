// app.js: the console's pages. Every action is a call of the admin API
// with the signed-in key; the server decides what the key may do, and the
// buttons a key's scope cannot use are disabled only as a courtesy.
"use strict";

const KEY = "patchwire.key";
const main = document.getElementById("main");
const banner = document.getElementById("banner");
const crumbs = document.getElementById("crumbs");
const who = document.getElementById("who");
// The API lives where the console's /console/ prefix starts, so the
// console works behind a proxy that serves the server under a path.
const BASE = location.pathname.slice(0, location.pathname.lastIndexOf("/console/"));
const RANK = { read: 1, upload: 2, write: 3, admin: 4 };
let me = null; // whoami
let timers = [];

// ---- API ----

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body) {
  const key = sessionStorage.getItem(KEY);
  const headers = { "Accept": "application/json" };
  if (key) headers["Authorization"] = "Bearer " + key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit" });
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const code = data && data.error ? data.error : "http_" + res.status;
    const msg = data && data.message ? data.message : (text || res.statusText);
    throw new APIError(res.status, code, msg);
  }
  return data;
}

const enc = encodeURIComponent;
const appPath = (app) => "/api/v1/apps/" + enc(app);

// ---- scope ----

function can(what, channel) {
  if (!me) return false;
  const r = RANK[me.scope] || 0;
  switch (what) {
    case "write": return r >= RANK.write;
    case "admin": return r >= RANK.admin;
    case "set": return r >= RANK.write || (me.scope === "upload" && (me.channels || []).includes(channel));
  }
  return r >= RANK.read;
}

// ---- feedback ----

function showError(err) {
  banner.className = "";
  banner.hidden = false;
  replace(banner, err instanceof APIError ? err.message + " (" + err.code + ")" : String(err && err.message || err));
  if (err instanceof APIError && err.status === 401) signOut(false);
}

function showInfo(text) {
  banner.className = "info";
  banner.hidden = false;
  replace(banner, text);
}

function clearBanner() { banner.hidden = true; replace(banner); }

// act runs an action, reports its error, and re-renders the page after it.
async function act(fn, okText) {
  clearBanner();
  try {
    await fn();
    if (okText) showInfo(okText);
    await render();
  } catch (err) {
    showError(err);
  }
}

// ---- shell ----

function setCrumbs(parts) {
  const out = [];
  parts.forEach((p, i) => {
    if (i) out.push(h("span", { class: "sep" }, "/"));
    out.push(p.href ? h("a", { href: p.href }, p.label) : h("span", {}, p.label));
  });
  replace(crumbs, out);
}

function setWho() {
  if (!me) { replace(who); return; }
  replace(who,
    h("span", { "data-testid": "whoami" }, (me.name || me.key_id) + " · " + me.scope),
    h("button", { id: "signout", onclick: () => signOut(true) }, "Sign out"));
}

function signOut(userAsked) {
  sessionStorage.removeItem(KEY);
  me = null;
  setWho();
  if (userAsked) clearBanner();
  location.hash = "#/signin";
  render();
}

function tabs(app, on) {
  const t = (id, label) => h("a", { href: "#/apps/" + enc(app) + "/" + id, class: on === id ? "on" : null, "data-testid": "tab-" + id }, label);
  return h("nav", { class: "tabs" }, t("bundles", "Bundles"), t("channels", "Channels"), t("devices", "Devices"), t("stats", "Stats"),
    can("admin") ? t("webhooks", "Webhooks") : null);
}

// ---- router ----

async function render() {
  timers.forEach(clearInterval);
  timers = [];
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!sessionStorage.getItem(KEY)) return pageSignIn();
  if (!me) {
    try { me = await api("GET", "/api/v1/whoami"); } catch (err) { showError(err); return pageSignIn(); }
    setWho();
  }
  try {
    if (parts[0] !== "apps" || !parts[1]) return await pageApps();
    const app = parts[1];
    switch (parts[2]) {
      case "channels": return parts[3] ? await pageChannel(app, parts[3]) : await pageChannels(app);
      case "devices": return parts[3] ? await pageDevice(app, parts[3]) : await pageDevices(app);
      case "stats": return await pageStats(app);
      case "webhooks": return await pageWebhooks(app);
      default: return await pageBundles(app);
    }
  } catch (err) {
    showError(err);
  }
}

window.addEventListener("hashchange", () => { clearBanner(); render(); });

// ---- sign in ----

function pageSignIn() {
  setCrumbs([{ label: "Sign in" }]);
  const input = h("input", { id: "key", type: "password", autocomplete: "off", placeholder: "pw_…", required: true });
  const form = h("form", { class: "panel signin", id: "signin-form", onsubmit: async (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    me = null;
    try {
      me = await api("GET", "/api/v1/whoami");
    } catch (err) {
      sessionStorage.removeItem(KEY);
      showError(err);
      return;
    }
    clearBanner();
    setWho();
    if (!location.hash || location.hash === "#/signin") location.hash = "#/apps"; else render();
  } },
  h("h1", {}, "Sign in"),
  h("p", {}, "Paste an API key (patchwire key create). It stays in this browser tab's session storage and is sent only in the Authorization header."),
  input,
  h("button", { id: "signin", type: "submit" }, "Sign in"));
  replace(main, form);
  input.focus();
}

// ---- apps ----

async function pageApps() {
  setCrumbs([{ label: "Apps" }]);
  const apps = await api("GET", "/api/v1/apps");
  const rows = apps.map((a) => h("tr", {},
    h("td", {}, h("a", { href: "#/apps/" + enc(a.app_id) + "/channels", "data-testid": "app-link" }, a.app_id)),
    h("td", {}, h("a", { href: "#/apps/" + enc(a.app_id) + "/bundles" }, "bundles"), " · ",
      h("a", { href: "#/apps/" + enc(a.app_id) + "/devices" }, "devices"), " · ",
      h("a", { href: "#/apps/" + enc(a.app_id) + "/stats" }, "stats")),
    h("td", { class: "muted" }, fmtTime(a.created_at))));
  const out = [h("h1", {}, "Apps"), table(["App", "Pages", "Created"], rows, { testid: "apps", empty: "No apps yet." })];
  if (can("admin")) {
    const id = h("input", { id: "new-app", placeholder: "com.example.app", required: true });
    out.push(h("form", { class: "panel row", onsubmit: (e) => { e.preventDefault(); act(() => api("POST", "/api/v1/apps", { app_id: id.value.trim() }), "App created"); } },
      h("label", {}, "New app", id), h("button", { type: "submit", id: "create-app" }, "Create")));
  }
  replace(main, out);
}

// ---- bundles ----

async function pageBundles(app) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app }, { label: "Bundles" }]);
  const bundles = await api("GET", appPath(app) + "/bundles");
  bundles.sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
  const rows = bundles.map((b) => {
    const used = (b.channels || []).length > 0;
    return h("tr", { "data-version": b.version },
      h("td", { class: "mono" }, b.version, b.builtin ? h("span", { class: "badge" }, "builtin " + (b.native_version || "")) : null),
      h("td", { class: "num" }, b.files),
      h("td", { class: "num" }, fmtBytes(b.size)),
      h("td", { class: "num" }, fmtBytes(b.stored_bytes)),
      h("td", {}, fmtTime(b.created_at)),
      h("td", {}, (b.channels || []).map((c) => h("a", { class: "badge ok", href: "#/apps/" + enc(app) + "/channels/" + enc(c) }, c))),
      h("td", { class: "muted" }, b.comment || ""),
      h("td", {}, h("button", { class: "danger", disabled: used || !can("write"), title: used ? "a channel serves it" : null,
        onclick: () => { if (confirm("Delete bundle " + b.version + "?")) act(() => api("DELETE", appPath(app) + "/bundles/" + enc(b.version)), "Bundle " + b.version + " deleted"); } }, "Delete")));
  });
  replace(main, h("h1", {}, app), tabs(app, "bundles"),
    table(["Version", ["Files", "num"], ["Size", "num"], ["Stored (after dedup)", "num"], "Uploaded", "Channels", "Comment", ""], rows,
      { testid: "bundles", empty: "No bundles yet: patchwire bundle upload ./dist --app " + app + " --version 1.0.0" }));
}

// ---- channels ----

function platforms(c) {
  return ["ios", "android", "electron"].filter((p) => c[p]).join(", ") || "none";
}

function rolloutText(r) {
  return (r.basis_points / 100).toFixed(r.basis_points % 100 ? 2 : 0) + " % on " + r.bundle;
}

async function pageChannels(app) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app }, { label: "Channels" }]);
  const channels = await api("GET", appPath(app) + "/channels");
  const rows = channels.map((c) => h("tr", { "data-channel": c.name },
    h("td", {}, h("a", { href: "#/apps/" + enc(app) + "/channels/" + enc(c.name), "data-testid": "channel-link" }, c.name),
      c.public ? h("span", { class: "badge" }, "public") : null,
      c.disabled ? h("span", { class: "badge warn" }, "DISABLED") : null,
      c.paused ? h("span", { class: "badge warn" }, "PAUSED") : null,
      c.guard_trips && c.guard_trips.length ? h("span", { class: "badge warn", title: c.guard_trips[c.guard_trips.length - 1].detail }, "guard tripped") : null),
    h("td", { class: "mono" }, c.bundle || "—"),
    h("td", {}, c.rollout ? [rolloutText(c.rollout), c.rollout.paused ? h("span", { class: "badge warn" }, "PAUSED") : null] : "—"),
    h("td", {}, c.policy),
    h("td", {}, platforms(c)),
    h("td", { class: "muted" }, fmtTime(c.updated_at))));
  const out = [h("h1", {}, app), tabs(app, "channels"),
    table(["Channel", "Bundle", "Rollout", "Policy", "Platforms", "Updated"], rows, { testid: "channels", empty: "No channels yet." })];
  if (can("write")) {
    const name = h("input", { id: "new-channel", placeholder: "production", required: true, pattern: "[A-Za-z0-9._\\-]{1,64}" });
    const pub = h("input", { type: "checkbox", id: "new-channel-public" });
    const policy = h("select", { id: "new-channel-policy" }, ["major", "minor", "patch", "metadata", "none"].map((p) => h("option", { value: p }, p)));
    out.push(h("form", { class: "panel row", id: "create-channel-form", onsubmit: (e) => {
      e.preventDefault();
      const n = name.value.trim();
      act(async () => {
        await api("POST", appPath(app) + "/channels", { name: n, public: pub.checked, ios: true, android: true, electron: true, policy: policy.value,
          allow_device: true, allow_emulator: true, allow_dev: true, allow_prod: true });
        location.hash = "#/apps/" + enc(app) + "/channels/" + enc(n);
      }, "Channel " + n + " created");
    } }, h("label", {}, "New channel", name), h("label", {}, pub, "public"), h("label", {}, "policy", policy),
    h("button", { type: "submit", id: "create-channel" }, "Create channel")));
  }
  replace(main, out);
}

async function pageChannel(app, name) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app, href: "#/apps/" + enc(app) + "/channels" }, { label: "Channels", href: "#/apps/" + enc(app) + "/channels" }, { label: name }]);
  const base = appPath(app) + "/channels/" + enc(name);
  const [c, history, bundles] = await Promise.all([api("GET", base), api("GET", base + "/history"), api("GET", appPath(app) + "/bundles")]);
  const versions = bundles.map((b) => b.version).reverse();

  const info = h("div", { class: "panel" }, h("h2", {}, "Channel " + name),
    h("dl", { class: "kv" },
      h("dt", {}, "Bundle"), h("dd", { class: "mono", id: "channel-bundle" }, c.bundle || "— (none yet)"),
      h("dt", {}, "Policy"), h("dd", {}, c.policy + (c.allow_under_native ? ", allows bundles under native" : "")),
      h("dt", {}, "Platforms"), h("dd", {}, platforms(c)),
      h("dt", {}, "Flags"), h("dd", {}, [c.public && "public", c.allow_self_assign && "self-assign", c.allow_emulator && "emulators", c.allow_device && "devices",
        c.allow_dev && "dev builds", c.allow_prod && "prod builds"].filter(Boolean).map((f) => h("span", { class: "badge" }, f))),
      h("dt", {}, "Sequence"), h("dd", {}, c.sequence),
      c.pending ? [h("dt", {}, "Pending"), h("dd", {}, h("span", { class: "badge warn" }, "waiting for patches"), " → " + (c.pending.bundle || ""))] : null));

  const pick = h("select", { id: "set-bundle-version" }, versions.map((v) => h("option", { value: v, selected: v === c.bundle }, v)), h("option", { value: "builtin" }, "builtin (the app's own)"));
  const setForm = h("div", { class: "panel" }, h("h2", {}, "Serve a bundle"),
    h("div", { class: "row" }, pick,
      h("button", { id: "set-bundle", disabled: !can("set", name), onclick: () => act(() => api("PUT", base + "/bundle", { bundle: pick.value }), "Channel " + name + " serves " + pick.value) }, "Set bundle"),
      h("button", { class: "plain", id: "rollback", disabled: !can("write"), onclick: () => act(() => api("POST", base + "/rollback"), "Rolled back") }, "Roll back")));

  const panel = h("div", { class: "panel", id: "rollout-panel" });
  renderRollout(panel, app, c, versions);
  const live = h("div", { class: "panel", id: "rollout-live" });
  const chart = h("div", { class: "panel chart", id: "failure-chart" });

  const hist = table(["At", "Action", "Bundle", "Previous", "Detail"], history.slice().reverse().map((e) => h("tr", {},
    h("td", {}, fmtTime(e.at)), h("td", {}, e.action), h("td", { class: "mono" }, e.bundle), h("td", { class: "mono" }, e.previous || ""), h("td", { class: "muted" }, e.detail || ""))),
  { testid: "history" });

  replace(main, h("h1", {}, app), tabs(app, "channels"), h("div", { class: "grid" }, info, setForm), panel, h("div", { class: "grid" }, live, chart),
    h("div", { class: "panel" }, h("h2", {}, "History"), hist));
  const refresh = () => refreshLive(app, name, live, chart).catch(showError);
  await refresh();
  timers.push(setInterval(refresh, 5000));
}

function renderRollout(panel, app, c, versions) {
  const base = appPath(app) + "/channels/" + enc(c.name);
  const r = c.rollout;
  const pct = h("input", { type: "number", id: "rollout-pct", min: 0, max: 100, step: 1, value: r ? Math.round(r.basis_points / 100) : 10 });
  const slider = h("input", { type: "range", id: "rollout-range", min: 0, max: 100, step: 1, value: pct.value });
  slider.addEventListener("input", () => { pct.value = slider.value; });
  pct.addEventListener("input", () => { slider.value = pct.value; });
  const bp = () => Math.round(Number(pct.value) * 100);
  const send = (body, text) => act(() => api("POST", base + "/rollout", body), text);
  const canW = can("write");
  if (!r) {
    const others = versions.filter((v) => v !== c.bundle);
    const pick = h("select", { id: "rollout-bundle" }, others.map((v) => h("option", { value: v }, v)));
    replace(panel, h("h2", {}, "Rollout"),
      h("p", { class: "muted" }, "Serve another bundle to a sticky share of this channel's devices; the rest keep " + (c.bundle || "nothing") + "."),
      others.length ? h("div", { class: "row" }, h("label", {}, "bundle", pick), h("label", {}, "share", slider, pct, "%"),
        h("button", { id: "rollout-start", disabled: !canW, onclick: () => send({ action: "start", bundle: pick.value, basis_points: bp() }, "Rollout started") }, "Start rollout"))
        : h("p", { class: "muted" }, "Upload another bundle to roll it out."));
    return;
  }
  replace(panel, h("h2", {}, "Rollout ", r.paused ? h("span", { class: "badge warn", id: "rollout-paused" }, "PAUSED") : h("span", { class: "badge ok" }, "running")),
    h("p", { id: "rollout-status" }, rolloutText(r), " · started " + fmtTime(r.started_at)),
    h("div", { class: "row" },
      h("label", {}, "share", slider, pct, "%"),
      h("button", { id: "rollout-apply", disabled: !canW, onclick: () => send({ action: "start", bundle: r.bundle, basis_points: bp() }, "Share changed") }, "Apply share"),
      r.paused
        ? h("button", { class: "plain", id: "rollout-resume", disabled: !canW, onclick: () => send({ action: "resume" }, "Rollout resumed") }, "Resume")
        : h("button", { class: "plain", id: "rollout-pause", disabled: !canW, onclick: () => send({ action: "pause" }, "Rollout paused") }, "Pause"),
      h("button", { class: "plain", id: "rollout-promote", disabled: !canW, onclick: () => { if (confirm("Serve " + r.bundle + " to everyone on " + c.name + "?")) send({ action: "promote" }, "Promoted " + r.bundle); } }, "Promote"),
      h("button", { class: "danger", id: "rollout-cancel", disabled: !canW, onclick: () => { if (confirm("Cancel the rollout of " + r.bundle + "?")) send({ action: "cancel" }, "Rollout cancelled"); } }, "Cancel")));
}

// refreshLive redraws the share of devices on each side of a rollout and
// the failure rates of the channel's bundles.
async function refreshLive(app, name, live, chart) {
  const base = appPath(app) + "/channels/" + enc(name);
  const now = Math.floor(Date.now() / 1000);
  const [c, stats, series] = await Promise.all([api("GET", base), api("GET", appPath(app) + "/stats?channel=" + enc(name)),
    api("GET", appPath(app) + "/stats/series?bucket=hour&from=" + (now - 48 * 3600) + "&to=" + now + "&channel=" + enc(name))]);
  const devicesOn = (v) => { const b = stats.bundles.find((x) => x.version === v); return b ? b.devices : 0; };
  const a = devicesOn(c.bundle), b = c.rollout ? devicesOn(c.rollout.bundle) : 0;
  const total = a + b + stats.bundles.filter((x) => x.version !== c.bundle && (!c.rollout || x.version !== c.rollout.bundle)).reduce((s, x) => s + x.devices, 0);
  const pc = (n) => total ? (100 * n / total).toFixed(1) + " %" : "0 %";
  const bar = h("div", { class: "share" },
    h("div", { class: "a", style: null }), h("div", { class: "b" }));
  bar.children[0].style.width = total ? (100 * a / total) + "%" : "0";
  bar.children[1].style.width = total ? (100 * b / total) + "%" : "0";
  replace(live, h("h2", {}, "Devices on this channel (live)"), bar,
    h("div", { class: "legend-row", id: "rollout-share", "data-channel-devices": a, "data-rollout-devices": b, "data-total": total },
      h("span", {}, h("span", { class: "swatch", style: null }), (c.bundle || "—") + ": " + a + " (" + pc(a) + ")"),
      c.rollout ? h("span", {}, h("span", { class: "swatch b" }), (c.rollout.bundle) + ": " + b + " (" + pc(b) + ")") : null,
      h("span", { class: "muted" }, total + " devices in all")));
  live.querySelectorAll(".swatch")[0].style.background = "#98a2b3";
  const rate = (s) => s.installs.map((_, i) => {
    const bad = s.failures[i] + s.rollbacks[i];
    const n = s.installs[i] + bad;
    return n ? 100 * bad / n : null;
  });
  const wanted = [c.bundle, c.rollout && c.rollout.bundle].filter(Boolean);
  // Every wanted bundle gets a line (a gap where it has no attempts yet),
  // so the legend names the rollout's bundle before its first install.
  const lines = wanted.map((v) => {
    const s = series.series.find((x) => x.version === v);
    return { label: v + (c.rollout && v === c.rollout.bundle ? " (rollout)" : " (channel)"), values: s ? rate(s) : series.times.map(() => null) };
  });
  lineChart(chart, "Failure rate per hour: failures and rollbacks / attempts", series.times, lines, { percent: true });
}

// ---- devices ----

async function pageDevices(app) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app }, { label: "Devices" }]);
  const q = new URLSearchParams(location.hash.split("?")[1] || "").get("q") || "";
  const input = h("input", { id: "device-q", placeholder: "device id prefix or custom id", value: q, size: 40 });
  const results = h("div", { id: "device-results" });
  const search = async () => {
    const list = await api("GET", appPath(app) + "/devices?limit=100&q=" + enc(input.value.trim()));
    replace(results, table(["Device", "Custom id", "Bundle", "Channel", "Platform", "Native", "Last seen"], list.devices.map((d) => h("tr", { "data-device": d.device_id },
      h("td", { class: "mono" }, h("a", { href: "#/apps/" + enc(app) + "/devices/" + enc(d.device_id), "data-testid": "device-link" }, d.device_id)),
      h("td", { class: "custom-id" }, d.custom_id || ""),
      h("td", { class: "mono" }, d.bundle || ""), h("td", {}, d.channel || ""),
      h("td", {}, d.platform + (d.is_emulator ? " (emulator)" : "")), h("td", {}, d.version_build || ""),
      h("td", { title: fmtTime(d.last_seen) }, ago(d.last_seen)))), { testid: "devices", empty: "No devices match." }));
  };
  replace(main, h("h1", {}, app), tabs(app, "devices"),
    h("form", { class: "panel row", id: "device-search-form", onsubmit: (e) => { e.preventDefault(); clearBanner(); search().catch(showError); } },
      input, h("button", { type: "submit", id: "device-search" }, "Search")), results);
  await search();
}

async function pageDevice(app, id) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app, href: "#/apps/" + enc(app) + "/devices" }, { label: "Devices", href: "#/apps/" + enc(app) + "/devices" }, { label: id }]);
  const path = appPath(app) + "/devices/" + enc(id);
  const [dd, channels] = await Promise.all([api("GET", path), api("GET", appPath(app) + "/channels")]);
  const d = dd.device;
  const kv = (k, v, cls) => [h("dt", {}, k), h("dd", { class: cls }, v)];
  const info = h("div", { class: "panel" }, h("h2", {}, "Device"),
    h("dl", { class: "kv", id: "device-info" },
      kv("Device id", d.device_id, "mono"), kv("Custom id", d.custom_id || "", "custom-id"), kv("Bundle", d.bundle || "", "mono"),
      kv("Channel", d.channel || ""), kv("Platform", d.platform + " " + (d.version_os || "") + (d.is_emulator ? " (emulator)" : "")),
      kv("Native version", d.version_build || ""), kv("Plugin", d.plugin_version || ""), kv("Default channel", d.default_channel || ""),
      kv("Build", d.is_prod ? "production" : "development"), kv("First seen", fmtTime(d.first_seen)), kv("Last seen", fmtTime(d.last_seen) + " (" + ago(d.last_seen) + ")")));
  const pick = h("select", { id: "pin-channel" }, channels.map((c) => h("option", { value: c.name, selected: c.name === dd.channels.override }, c.name)));
  const pin = h("div", { class: "panel" }, h("h2", {}, "Channel pin"),
    h("p", { id: "device-override" }, dd.channels.override ? ["Pinned to ", h("strong", {}, dd.channels.override)] : "Not pinned",
      dd.channels.self_assigned ? " · self-assigned " + dd.channels.self_assigned : ""),
    h("div", { class: "row" }, pick,
      h("button", { id: "pin", disabled: !can("write") || !channels.length, onclick: () => act(() => api("PUT", path + "/override", { channel: pick.value }), "Device pinned to " + pick.value) }, "Pin to channel"),
      h("button", { class: "plain", id: "unpin", disabled: !can("write"), onclick: () => act(() => api("DELETE", path + "/override"), "Pin cleared") }, "Clear")));
  const events = table(["At", "Action", "Version", "Channel", "Details"], dd.events.map((e) => h("tr", {},
    h("td", {}, fmtTime(e.at)), h("td", {}, e.action), h("td", { class: "mono" }, e.version_name), h("td", {}, e.channel || ""),
    h("td", { class: "muted" }, Object.entries(e.metadata || {}).map(([k, v]) => k + "=" + v).join(", ")))), { testid: "events", empty: "No events yet." });
  replace(main, h("h1", {}, app), tabs(app, "devices"), h("div", { class: "grid" }, info, pin), h("div", { class: "panel" }, h("h2", {}, "Recent events"), events));
}

// ---- stats ----

const RANGES = { "48h": 48 * 3600, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400 };

async function pageStats(app) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app }, { label: "Stats" }]);
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const bucket = params.get("bucket") || "hour";
  const range = RANGES[params.get("range")] ? params.get("range") : "48h";
  const channel = params.get("channel") || "";
  const now = Math.floor(Date.now() / 1000);
  const q = "bucket=" + bucket + "&from=" + (now - RANGES[range]) + "&to=" + now + (channel ? "&channel=" + enc(channel) : "");
  const [totals, series, channels] = await Promise.all([
    api("GET", appPath(app) + "/stats" + (channel ? "?channel=" + enc(channel) : "")),
    api("GET", appPath(app) + "/stats/series?" + q),
    api("GET", appPath(app) + "/channels")]);
  const go = (k, v) => { params.set(k, v); if (!v) params.delete(k); location.hash = "#/apps/" + enc(app) + "/stats?" + params.toString(); };
  const sel = (id, value, options, key) => h("select", { id, onchange: (e) => go(key, e.target.value) }, options.map(([v, l]) => h("option", { value: v, selected: v === value }, l)));
  const controls = h("div", { class: "panel row" },
    h("label", {}, "per", sel("bucket", bucket, [["hour", "hour"], ["day", "day"]], "bucket")),
    h("label", {}, "last", sel("range", range, Object.keys(RANGES).map((r) => [r, r]), "range")),
    h("label", {}, "channel", sel("stats-channel", channel, [["", "all channels"]].concat(channels.map((c) => [c.name, c.name])), "channel")),
    h("button", { class: "plain", id: "stats-refresh", onclick: () => render() }, "Refresh"));
  const tot = table(["Bundle", ["Devices", "num"], ["Downloads", "num"], ["Installs", "num"], ["Failures", "num"], ["Rollbacks", "num"]],
    totals.bundles.map((b) => h("tr", {}, h("td", { class: "mono" }, b.version), h("td", { class: "num" }, b.devices), h("td", { class: "num" }, b.downloads),
      h("td", { class: "num" }, b.installs), h("td", { class: "num" }, b.failures), h("td", { class: "num" }, b.rollbacks))), { testid: "stats-totals", empty: "No devices or events yet." });
  const adoption = h("div", { class: "panel chart", id: "adoption-chart" });
  const installs = h("div", { class: "panel chart", id: "installs-chart" });
  const failures = h("div", { class: "panel chart", id: "failures-chart" });
  const bytes = h("div", { class: "panel chart", id: "bytes-chart" });
  replace(main, h("h1", {}, app), tabs(app, "stats"), controls, h("div", { class: "grid" }, adoption, installs), h("div", { class: "grid" }, failures, bytes),
    h("div", { class: "panel" }, h("h2", {}, "Now, per bundle"), tot));
  const per = (field) => series.series.map((s) => ({ label: s.version, values: s[field] }));
  lineChart(adoption, "Devices per bundle", series.times, per("devices"), { stepped: true, fill: true });
  lineChart(installs, "Installs per " + bucket, series.times, per("installs"));
  lineChart(failures, "Failures and rollbacks per " + bucket, series.times, series.series.map((s) => ({ label: s.version, values: s.failures.map((f, i) => f + s.rollbacks[i]) })));
  const sum = (field) => series.times.map((_, i) => series.series.reduce((a, s) => a + s[field][i], 0));
  const served = sum("bytes_served"), full = sum("bytes_full");
  const saved = full.map((f, i) => Math.max(0, f - served[i]));
  const any = full.some((v) => v > 0);
  lineChart(bytes, "Download bytes per " + bucket + ": sent vs full zips", series.times,
    any ? [{ label: "sent", values: served }, { label: "full zips", values: full, color: "#98a2b3" }, { label: "saved", values: saved, color: "#16a34a" }] : [],
    { format: fmtBytes });
}

// ---- webhooks ----

// WEBHOOK_EVENTS are the event types a hook may subscribe to
// (store.WebhookEventTypes; the browser test checks they agree).
const WEBHOOK_EVENTS = ["bundle.uploaded", "channel.changed", "guard.tripped", "rollout.paused"];
// ROTATE_OVERLAPS: how long a rotated-out secret may keep signing beside the
// new one (the API's expire_previous_in; its default is 24h, its most 7 days).
const ROTATE_OVERLAPS = [["24h", "for 24 hours"], ["1h", "for 1 hour"], ["168h", "for 7 days"], ["0", "not at all"]];

// pageWebhooks lists an app's hooks and their deliveries, and adds,
// removes and rotates the secrets of hooks (admin keys only, as the API).
// added is the answer of the hook just added, or of the rotation just
// made (rotated true): its secret is shown this once.
async function pageWebhooks(app, added, rotated) {
  setCrumbs([{ label: "Apps", href: "#/apps" }, { label: app }, { label: "Webhooks" }]);
  const [hooks, deliveries] = await Promise.all([api("GET", appPath(app) + "/webhooks"), api("GET", appPath(app) + "/webhook-deliveries")]);
  const hookRows = hooks.map((w) => {
    const overlap = h("select", { "data-testid": "rotate-overlap", "aria-label": "The current secret keeps signing" },
      ROTATE_OVERLAPS.map(([v, label]) => h("option", { value: v, selected: v === "24h" }, label)));
    return h("tr", { "data-hook": w.id },
    h("td", { class: "mono" }, w.id), h("td", { class: "mono" }, w.url), h("td", {}, w.events.join(", ")), h("td", { class: "muted" }, fmtTime(w.created_at)),
    h("td", { class: "muted", "data-testid": "previous-expires" }, w.previous_secret_expires ? fmtTime(w.previous_secret_expires) : ""),
    h("td", {}, h("button", { class: "plain", "data-testid": "rotate-secret", onclick: async () => {
      const keep = overlap.value === "0" ? "The current one stops signing deliveries at once." :
        "The current one keeps signing deliveries " + overlap.selectedOptions[0].textContent + ".";
      if (!confirm("Rotate the secret of " + w.url + "? " + keep)) return;
      clearBanner();
      try {
        const res = await api("POST", "/api/v1/webhooks/" + enc(w.id) + "/rotate-secret", { expire_previous_in: overlap.value });
        await pageWebhooks(app, res, true);
        showInfo("Secret of " + res.id + " rotated");
      } catch (err) {
        showError(err);
      }
    } }, "Rotate secret"), " ", h("label", { class: "muted" }, "old one signs ", overlap), " ", h("button", { class: "plain", "data-testid": "remove-hook", onclick: () => {
      if (confirm("Remove " + w.url + " and its pending deliveries?")) act(() => api("DELETE", "/api/v1/webhooks/" + enc(w.id)), "Webhook removed");
    } }, "Remove")));
  });
  const deliveryRows = deliveries.map((d) => h("tr", { "data-delivery": d.id, "data-status": d.status },
    h("td", { class: "muted" }, fmtTime(d.created_at)), h("td", { class: "mono" }, d.hook), h("td", {}, d.type),
    h("td", {}, h("span", { class: d.status === "failed" ? "badge warn" : "badge" }, d.status)), h("td", { class: "num" }, d.attempts),
    h("td", { class: "muted" }, d.next_attempt ? fmtTime(d.next_attempt) : fmtTime(d.done_at)), h("td", { class: "muted" }, d.last_error || ""),
    h("td", {}, d.status === "pending" ? null : h("button", { class: "plain", "data-testid": "redeliver", onclick: () =>
      act(() => api("POST", appPath(app) + "/webhook-deliveries/" + enc(d.id) + "/redeliver"), "Delivery " + d.id + " queued again") }, "Redeliver"))));
  const url = h("input", { id: "hook-url", type: "url", placeholder: "https://ci.example.com/patchwire", required: true, size: 40 });
  const boxes = WEBHOOK_EVENTS.map((e) => h("input", { type: "checkbox", value: e, checked: true, "data-testid": "hook-event" }));
  const form = h("form", { class: "panel row", id: "add-hook-form", onsubmit: async (e) => {
    e.preventDefault();
    clearBanner();
    try {
      const res = await api("POST", appPath(app) + "/webhooks", { url: url.value.trim(), events: boxes.filter((b) => b.checked).map((b) => b.value) });
      await pageWebhooks(app, res);
      showInfo("Webhook " + res.id + " added");
    } catch (err) {
      showError(err);
    }
  } }, h("label", {}, "URL", url), boxes.map((b) => h("label", {}, b, b.value)), h("button", { type: "submit", id: "add-hook" }, "Add webhook"));
  const secret = added ? h("div", { class: "panel", id: "hook-secret-panel" }, h("h2", {}, (rotated ? "New secret of " : "Secret of ") + added.id),
    h("p", {}, "Shown only now: the receiver checks each delivery's Patchwire-Signature with it." +
      (rotated && added.previous_secret_expires ? " The previous secret also signs deliveries until " + fmtTime(added.previous_secret_expires) + ": give the receiver this one before then." : "")),
    h("code", { class: "mono", id: "hook-secret" }, added.secret)) : null;
  replace(main, h("h1", {}, app), tabs(app, "webhooks"), secret,
    h("div", { class: "panel" }, h("h2", {}, "Hooks"), table(["Id", "URL", "Events", "Added", "Previous secret expires", ""], hookRows, { testid: "hooks", empty: "No webhooks yet." })),
    form,
    h("div", { class: "panel" }, h("h2", {}, "Deliveries"),
      table(["Event at", "Hook", "Type", "Status", ["Attempts", "num"], "Next / done", "Last error", ""], deliveryRows, { testid: "webhook-deliveries", empty: "No deliveries yet." })));
}

render();
