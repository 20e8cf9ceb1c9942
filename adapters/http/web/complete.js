// complete.js: "@" autocomplete for a textarea, from the open chat's members.
//
// Typing "@" and the start of a name opens a list above the text (a
// listbox the textarea controls: aria-activedescendant points at the
// highlighted option, so focus never leaves the text; the textarea keeps
// its role, so no aria-expanded, which only a combobox may carry). Up and
// Down move, Enter or Tab picks, Escape closes; a click picks too. Picking
// writes "@Full Name " into the text; the sender turns such names into
// the server's <@id> tokens (rich.js, encodeMentions).

import { h } from "./dom.js";
import { t } from "./i18n.js";

const maxShown = 8;

export class MentionComplete {
  // people() lists the candidates: [{id, name, all?}] (all: the "@all" entry).
  constructor(area, list, people) {
    Object.assign(this, { area, list, people });
    this.items = [];
    this.active = 0;
    this.start = -1; // index of the "@" being completed
    area.setAttribute("aria-autocomplete", "list");
    area.setAttribute("aria-controls", list.id);
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", t("People to mention"));
    list.hidden = true;
    area.addEventListener("input", () => this.update());
    area.addEventListener("click", () => this.update());
    area.addEventListener("blur", () => this.close());
  }

  get open() {
    return !this.list.hidden;
  }

  // update finds an "@name" being typed before the caret and lists who fits.
  update() {
    const a = this.area;
    const before = a.value.slice(0, a.selectionStart);
    const m = /(?:^|[\s(])@([^\s@<>]{0,30}(?: [^\s@<>]{0,30}){0,2})$/u.exec(before);
    if (!m || a.selectionStart !== a.selectionEnd) return this.close();
    const q = m[1].toLowerCase();
    this.start = before.length - m[1].length - 1;
    const fits = (p) => {
      const n = p.name.toLowerCase();
      return n.startsWith(q) || (!q.includes(" ") && n.split(/\s+/).some((w) => w.startsWith(q)));
    };
    const found = this.people().filter(fits).slice(0, maxShown);
    if (!found.length) return this.close();
    this.items = found;
    this.active = Math.min(this.active, found.length - 1);
    this.render();
  }

  render() {
    const id = this.list.id;
    this.list.replaceChildren(...this.items.map((p, i) => h("li", {
      id: `${id}-${i}`, role: "option", class: "mention-option", "aria-selected": String(i === this.active),
      onpointerdown: (ev) => ev.preventDefault(), // the text keeps focus
      onclick: () => this.pick(i),
    }, h("span", { class: "mention-name" }, "@" + p.name), p.all ? h("span", { class: "muted" }, " " + t("everyone in this chat")) : null)));
    this.list.hidden = false;
    this.area.setAttribute("aria-activedescendant", `${id}-${this.active}`);
  }

  close() {
    if (this.list.hidden) return;
    this.list.hidden = true;
    this.items = [];
    this.active = 0;
    this.area.removeAttribute("aria-activedescendant");
  }

  // key handles a keydown of the textarea; true when it was the list's.
  key(ev) {
    if (!this.open || ev.isComposing) return false;
    const n = this.items.length;
    if (ev.key === "ArrowDown") this.active = (this.active + 1) % n;
    else if (ev.key === "ArrowUp") this.active = (this.active - 1 + n) % n;
    else if (ev.key === "Enter" || ev.key === "Tab") this.pick(this.active);
    else if (ev.key === "Escape") this.close();
    else return false;
    ev.preventDefault();
    ev.stopPropagation();
    if (this.open) this.render();
    return true;
  }

  pick(i) {
    const p = this.items[i];
    if (!p) return;
    const a = this.area;
    const end = a.selectionStart;
    const text = "@" + p.name + " ";
    a.value = a.value.slice(0, this.start) + text + a.value.slice(end);
    const at = this.start + text.length;
    a.setSelectionRange(at, at);
    this.close();
    a.focus();
    a.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
