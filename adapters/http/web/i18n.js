// i18n.js: English and Simplified Chinese.
//
// Strings are written in English in the code (t("Sign in")) and in
// index.html (data-i18n on an element translates its text, data-i18n-attr
// the named attributes). The Chinese table below has an entry for every
// one of them (web_test.go checks); a template's {name} parts are filled
// from the values given. English plurals are functions.
//
// The language comes from the user's choice (kept in localStorage), else
// the browser's languages; dates and times follow the same locale.

import { zh } from "./i18n-zh.js";

const choiceKey = "fechatter.lang";

export const languages = [
  { code: "en", name: "English" },
  { code: "zh-CN", name: "简体中文" },
];

function pick() {
  const chosen = localStorage.getItem(choiceKey);
  if (chosen && languages.some((l) => l.code === chosen)) return chosen;
  for (const l of navigator.languages ?? [navigator.language]) {
    if (/^zh\b/i.test(l ?? "")) return "zh-CN";
    if (/^en\b/i.test(l ?? "")) return "en";
  }
  return "en";
}

export const lang = pick();
export const locale = lang === "zh-CN" ? "zh-CN" : (navigator.languages?.find((l) => /^en\b/i.test(l)) ?? "en");

export function chooseLanguage(code) {
  localStorage.setItem(choiceKey, code);
}

const en = {
  "{n} members": (v) => (v.n === 1 ? "1 member" : `${v.n} members`),
  "{n} results": (v) => (v.n === 1 ? "1 result" : `${v.n} results`),
  "{n} unread": (v) => `${v.n} unread`,
  "Good for {n} uses, until {when}.": (v) => `Good for ${v.n} use${v.n === 1 ? "" : "s"}, until ${v.when}.`,
  "{n} new messages": (v) => (v.n === 1 ? "1 new message" : `${v.n} new messages`),
  "{n} replies": (v) => (v.n === 1 ? "1 reply" : `${v.n} replies`),
  "{n} mentions": (v) => (v.n === 1 ? "1 mention" : `${v.n} mentions`),
};

// t translates s and fills {name} parts from vars.
export function t(s, vars = {}) {
  const table = lang === "zh-CN" ? zh : en;
  const entry = table[s];
  if (typeof entry === "function") return entry(vars);
  const template = entry ?? s;
  return template.replace(/\{(\w+)\}/g, (all, k) => (k in vars ? String(vars[k]) : all));
}

// translatePage translates index.html's marked text and attributes, and
// sets the document's language.
export function translatePage(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.dataset.i18nKey ??= el.textContent.trim().replace(/\s+/g, " ");
    el.textContent = t(el.dataset.i18nKey);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const a of el.dataset.i18nAttr.split(",")) {
      const keyName = "i18nKey_" + a.replace(/-/g, "_");
      el.dataset[keyName] ??= el.getAttribute(a) ?? "";
      el.setAttribute(a, t(el.dataset[keyName]));
    }
  }
}
