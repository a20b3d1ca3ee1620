// Gantry dashboard: small progressive enhancements. The pages work without it.
"use strict";

// Namespace filters apply as soon as one is picked.
for (const sel of document.querySelectorAll("select[data-autosubmit]")) {
  sel.addEventListener("change", () => sel.form.submit());
  const button = sel.form.querySelector("button");
  if (button) button.hidden = true;
}

// Live events: the server sends each new event (Server-Sent Events); add it
// to the top of the table, keep the newest 50, and refresh the counts.
const body = document.querySelector("tbody[data-live]");
if (body && window.EventSource) {
  const state = document.querySelector("[data-live-state]");
  const seqOut = document.querySelector("[data-live-seq]");
  const source = new EventSource(body.dataset.live);
  let countsTimer = null;
  source.addEventListener("gantry", (msg) => {
    const e = JSON.parse(msg.data);
    body.querySelector("tr.none")?.remove();
    body.prepend(eventRow(e));
    while (body.rows.length > 50) body.deleteRow(-1);
    if (seqOut) seqOut.textContent = e.seq;
    clearTimeout(countsTimer);
    countsTimer = setTimeout(refreshCounts, 500);
  });
  source.addEventListener("open", () => setState(state, true));
  source.addEventListener("error", () => setState(state, false));
}

function setState(el, live) {
  if (!el) return;
  el.textContent = live ? "live" : "reconnecting…";
  el.classList.toggle("off", !live);
}

function cell(tr, text, cls) {
  const td = tr.insertCell();
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

function eventRow(e) {
  const tr = document.createElement("tr");
  tr.className = "fresh";
  const t = document.createElement("time");
  t.dateTime = e.time;
  t.textContent = e.time.replace("T", " ").replace(/\.\d+/, "").replace("Z", "");
  tr.insertCell().append(t);
  cell(tr, String(e.seq), "num");
  const verb = document.createElement("span");
  verb.className = "verb verb-" + e.verb;
  verb.textContent = e.verb;
  tr.insertCell().append(verb);
  const a = document.createElement("a");
  a.href = e.href;
  a.textContent = e.kind + "/" + (e.namespace ? e.namespace + "/" : "") + e.name;
  tr.insertCell().append(a);
  cell(tr, e.who);
  cell(tr, e.reason || "—");
  return tr;
}

// refreshCounts redraws the kind counts (cards and side bar) from the API.
async function refreshCounts() {
  const ns = new URLSearchParams(location.search).get("namespace");
  const res = await fetch("/api/overview" + (ns ? "?namespace=" + encodeURIComponent(ns) : ""));
  if (!res.ok) return;
  const o = await res.json();
  for (const k of o.kinds) {
    const card = document.querySelector(`.card[data-kind="${k.token}"]`);
    if (card) {
      card.querySelector(".count").textContent = k.count;
      card.classList.toggle("empty", k.count === 0);
    }
    const side = document.querySelector(`.side a[href^="/kinds/${k.token}"] .count`);
    if (side) {
      side.textContent = k.count;
      side.setAttribute("aria-label", k.count + " objects");
      side.parentElement.classList.toggle("empty", k.count === 0);
    }
  }
}
