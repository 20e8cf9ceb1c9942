// rich.js: a small Markdown subset rendered as DOM nodes, never as markup.
//
// Blocks: ``` code blocks ```, > quotes, - or * lists, 1. lists, and
// paragraphs (single newlines kept). Inline: `code`, **bold**, *italic*
// or _italic_, links (http, https and mailto only; bare URLs too), the
// server's mentions (<@123> and <!all>, shown as "@Full Name" and "@all"),
// and @mentions of known people written by hand. Every piece of text becomes a text node;
// element names and attributes come from this file alone, so a message can
// never inject HTML, and a link can never run script (javascript: and any
// other scheme stay text).

import { h } from "./dom.js";

// richNodes renders content. isMention(name) says whether "@name" names
// someone (1) or the reader (2): the node then gets a mention class.
// userMention(id) is {name, me} for a <@id> token.
export function richNodes(content, { isMention = () => 0, userMention = (id) => ({ name: `user ${id}`, me: false }) } = {}) {
  const opts = { isMention, userMention };
  const out = [];
  const lines = content.split("\n");
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const code = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) code.push(lines[i++]);
      i++; // the closing fence (or the end)
      out.push(h("pre", {}, h("code", {}, code.join("\n"))));
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      out.push(h("blockquote", {}, richNodes(quoted.join("\n"), opts)));
      continue;
    }
    const bullet = /^\s*[-*]\s+/;
    const numbered = /^\s*\d{1,9}[.)]\s+/;
    if (bullet.test(line) || numbered.test(line)) {
      const re = bullet.test(line) ? bullet : numbered;
      const items = [];
      while (i < lines.length && re.test(lines[i])) items.push(h("li", {}, inline(lines[i++].replace(re, ""), opts)));
      out.push(h(re === bullet ? "ul" : "ol", {}, items));
      continue;
    }
    const para = [];
    while (i < lines.length && !/^```|^>\s?/.test(lines[i]) && !bullet.test(lines[i]) && !numbered.test(lines[i])) {
      para.push(lines[i++]);
    }
    const p = h("p", {});
    para.forEach((l, k) => {
      if (k) p.append(h("br", {}));
      p.append(...inline(l, opts));
    });
    out.push(p);
  }
  return out;
}

// One pattern for every inline form; the first that matches at a place
// wins. Italics need a non-word character on both sides (snake_case and
// 2*3*4 stay text). Links end before trailing punctuation.
const inlineRe = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|((?<![\p{L}\p{N}*])\*[^*\s][^*\n]*\*(?![\p{L}\p{N}])|(?<![\p{L}\p{N}_])_[^_\s][^_\n]*_(?![\p{L}\p{N}]))|(<@\d{1,18}>|<!all>)|((?:https?:\/\/|mailto:)[^\s<>"]*[^\s<>".,;:!?)\]}'])|(@[\p{L}\p{N}_.-]+(?: [\p{Lu}\p{Lo}][\p{L}\p{N}_.-]*)?)/gu;

function inline(text, opts) {
  const { isMention, userMention } = opts;
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(inlineRe)) {
    if (m.index > last) nodes.push(document.createTextNode(text.slice(last, m.index)));
    const [all, code, bold, italic, token, url, mention] = m;
    if (code) nodes.push(h("code", {}, code.slice(1, -1)));
    else if (bold) nodes.push(h("strong", {}, inline(bold.slice(2, -2), opts)));
    else if (italic) nodes.push(h("em", {}, inline(italic.slice(1, -1), opts)));
    else if (token === "<!all>") nodes.push(h("span", { class: "mention me", dataset: { mention: "all" } }, "@all"));
    else if (token) {
      const id = Number(token.slice(2, -1));
      const u = userMention(id);
      nodes.push(h("span", { class: "mention" + (u.me ? " me" : ""), dataset: { mention: String(id) } }, "@" + u.name));
    }
    else if (url) nodes.push(link(url));
    else if (mention) {
      // "@Bob Baker" or just "@Bob": the longer form when it names someone.
      const who = isMention(mention.slice(1));
      if (who) nodes.push(h("span", { class: "mention" + (who === 2 ? " me" : "") }, mention));
      else {
        const short = mention.split(" ")[0];
        const w2 = isMention(short.slice(1));
        nodes.push(w2 ? h("span", { class: "mention" + (w2 === 2 ? " me" : "") }, short) : document.createTextNode(short));
        if (short.length < mention.length) nodes.push(document.createTextNode(mention.slice(short.length)));
      }
    } else nodes.push(document.createTextNode(all));
    last = m.index + all.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

// safeURL returns the URL when its scheme is http, https or mailto.
export function safeURL(raw) {
  try {
    const u = new URL(raw);
    return ["http:", "https:", "mailto:"].includes(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

function link(raw) {
  const href = safeURL(raw);
  if (!href) return document.createTextNode(raw);
  return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, raw);
}

// mentions returns the names after "@" in content, for notifications.
export function mentionsName(content, name) {
  if (!name) return false;
  const lc = content.toLowerCase();
  const n = "@" + name.toLowerCase();
  for (let i = lc.indexOf(n); i >= 0; i = lc.indexOf(n, i + 1)) {
    const next = lc[i + n.length];
    if (next === undefined || !/[\p{L}\p{N}_]/u.test(next)) return true;
  }
  return false;
}

// plainText is content with the server's mention tokens written out as
// "@Full Name" and "@all": for previews, notifications and editing.
export function plainText(content, nameOf) {
  return content.replace(/<@(\d{1,18})>/g, (_, id) => "@" + nameOf(Number(id))).replace(/<!all>/g, "@all");
}

// encodeMentions turns "@Full Name" of the given people (and "@all" when
// allowAll) into the server's tokens <@id> and <!all>; longer names first,
// so "@Ann Lee" wins over "@Ann". Case is ignored; a name must end at a
// word boundary, and the "@" must not follow a letter (an email address).
export function encodeMentions(text, people, allowAll) {
  const list = [...people].filter((p) => p.name).sort((a, b) => b.name.length - a.name.length);
  if (allowAll) list.push({ id: 0, name: "all" });
  if (!list.length) return text;
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])@(${list.map((p) => esc(p.name)).join("|")})(?![\\p{L}\\p{N}_])`, "giu");
  return text.replace(re, (all, name) => {
    const p = list.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!p) return all;
    return p.id === 0 ? "<!all>" : `<@${p.id}>`;
  });
}
