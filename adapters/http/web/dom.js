// dom.js: building elements without markup strings, and formatting.
//
// Everything a user wrote reaches the page as text (textContent or text
// nodes); nothing here assigns innerHTML.

import { t, locale } from "./i18n.js";

// h builds an element: h("li", {class: "x", onclick: f}, "text", child).
// Strings become text nodes, never markup.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (typeof v === "boolean" || k === "value") el[k] = v; // hidden, checked, disabled, value
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const entities = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

// decodeEntities turns HTML character references back into text. It
// returns null for anything it does not know, so the caller falls back.
function decodeEntities(s) {
  let bad = false;
  const out = s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (_, ref) => {
    if (ref[0] === "#") {
      const n = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!Number.isFinite(n) || n > 0x10ffff) { bad = true; return ""; }
      return String.fromCodePoint(n);
    }
    const e = entities[ref.toLowerCase()];
    if (e === undefined) bad = true;
    return e ?? "";
  });
  return bad ? null : out;
}

// highlightNodes rebuilds a search highlight (HTML-escaped text with
// <mark>…</mark> around the matches) as DOM nodes: text nodes and <mark>
// elements with textContent. Anything else in it (another tag, a stray
// "<", unbalanced marks) makes it return null; the caller then shows the
// plain message text instead. The string is never parsed as HTML.
export function highlightNodes(highlight) {
  if (typeof highlight !== "string" || highlight === "") return null;
  const parts = highlight.split(/(<mark>|<\/mark>)/);
  const nodes = [];
  let inMark = false;
  for (const part of parts) {
    if (part === "<mark>") {
      if (inMark) return null;
      inMark = true;
      continue;
    }
    if (part === "</mark>") {
      if (!inMark) return null;
      inMark = false;
      continue;
    }
    if (part === "") continue;
    if (/[<>]/.test(part)) return null;
    const text = decodeEntities(part);
    if (text === null) return null;
    nodes.push(inMark ? h("mark", { text }) : document.createTextNode(text));
  }
  return inMark ? null : nodes;
}

const timeFmt = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "medium" });
const relFmt = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
const weekdayFmt = new Intl.DateTimeFormat(locale, { weekday: "long" });
const dayFmt = new Intl.DateTimeFormat(locale, { weekday: "short", month: "long", day: "numeric" });
const yearDayFmt = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric" });

// shortTime is "14:02" today and "Mar 3, 14:02" before, in the user's locale.
export function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function fullTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : fullFmt.format(d);
}

// dayKey is the local calendar day of a time, for date separators.
export function dayKey(iso) {
  return new Date(iso).toDateString();
}

// dayLabel names a day relative to today: "Today", "Yesterday", a weekday
// within the last week, then the date ("Mon, March 3"; with the year when
// it is not this year).
export function dayLabel(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(new Date()) - start(d)) / 86_400_000);
  if (days === 0 || days === 1) {
    const s = relFmt.format(-days, "day");
    return s.charAt(0).toLocaleUpperCase(locale) + s.slice(1);
  }
  if (days > 1 && days < 7) return weekdayFmt.format(d);
  return d.getFullYear() === new Date().getFullYear() ? dayFmt.format(d) : yearDayFmt.format(d);
}

// ago is "just now", "5 minutes ago", "3 hours ago", "yesterday", or a
// date for anything older than a week.
export function ago(iso) {
  const t0 = new Date(iso).getTime();
  if (Number.isNaN(t0)) return "";
  const s = (Date.now() - t0) / 1000;
  if (s < 45) return t("just now");
  if (s < 3600) return relFmt.format(-Math.max(1, Math.round(s / 60)), "minute");
  if (s < 86400) return relFmt.format(-Math.round(s / 3600), "hour");
  if (s < 7 * 86400) return relFmt.format(-Math.round(s / 86400), "day");
  return t("on {date}", { date: dateTimeFmt.format(new Date(t0)) });
}

// uuid is crypto.randomUUID where the page is a secure context, and a
// version 4 UUID from getRandomValues where it is not (plain http on a
// LAN address).
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
