// Lotse's web page. Everything the server sends is put into the page as text (textContent),
// never as HTML; links are made only from tel:, mailto:, https:// and /download/ addresses.
// No storage, no cookies of its own (the session cookie is HttpOnly), nothing from elsewhere.
"use strict";

(() => {
  const TEXTS = {
    de: {
      title: "Lotse: Hilfe nach einem Vorfall bei der Arbeit",
      privacy: "Ohne Konto und ohne Tracking. „Schnell verlassen“ oder zweimal Esc löscht " +
        "das Gespräch sofort.",
      tools: "Sofort-Hilfe",
      emergency: "Notfall 110 / 112",
      emergency_aria: "Notfall 110 / 112: Notrufnummern sofort zeigen",
      exit: "Schnell verlassen",
      exit_title: "Verlässt die Seite sofort und löscht das Gespräch (auch: zweimal Esc)",
      other_lang: "en",
      other_name: "English",
      other_aria: "Switch to English",
      log: "Gespräch",
      input_label: "Ihre Antwort",
      placeholder: "Antwort schreiben …",
      send: "Senden",
      back: "Zurück",
      back_aria: "Zurück: letzte Antwort zurücknehmen",
      help: "Hilfe",
      keys: "Enter sendet, Umschalt+Enter macht eine neue Zeile. Zweimal Esc verlässt die Seite.",
      skip_link: "Zum Eingabefeld springen",
      you: "Sie",
      lotse: "Lotse",
      skip: "Überspringen",
      today: "Heute",
      yesterday: "Gestern",
      confirm: "Auswahl senden",
      choose_one: "Bitte wählen Sie mindestens eine Antwort.",
      done: "Fertig",
      print: "Als Dokument",
      pdf: "PDF herunterladen",
      txt: "Als Text herunterladen",
      downloaded: "heruntergeladen",
      download_note: "Jede Datei lässt sich einmal herunterladen, innerhalb von {minutes} " +
        "Minuten. Lotse behält keine Kopie.",
      restart: "Neu beginnen",
      offline: "Lotse ist gerade nicht erreichbar. Bitte versuchen Sie es noch einmal. " +
        "Im Notfall rufen Sie 110 (Polizei) oder 112 (Rettungsdienst).",
    },
    en: {
      title: "Lotse: help after an incident at work",
      privacy: "No account, no tracking. “Quick exit” or pressing Esc twice erases the " +
        "conversation at once.",
      tools: "Immediate help",
      emergency: "Emergency 110 / 112",
      emergency_aria: "Emergency 110 / 112: show the emergency numbers now",
      exit: "Quick exit",
      exit_title: "Leaves this page at once and erases the conversation (also: Esc twice)",
      other_lang: "de",
      other_name: "Deutsch",
      other_aria: "Auf Deutsch wechseln",
      log: "Conversation",
      input_label: "Your answer",
      placeholder: "Write an answer …",
      send: "Send",
      back: "Back",
      back_aria: "Back: take back the last answer",
      help: "Help",
      keys: "Enter sends, Shift+Enter starts a new line. Esc twice leaves the page.",
      skip_link: "Skip to the input field",
      you: "You",
      lotse: "Lotse",
      skip: "Skip",
      today: "Today",
      yesterday: "Yesterday",
      confirm: "Send selection",
      choose_one: "Please choose at least one answer.",
      done: "Done",
      print: "As a document",
      pdf: "Download PDF",
      txt: "Download as text",
      downloaded: "downloaded",
      download_note: "Each file can be downloaded once, within {minutes} minutes. " +
        "Lotse keeps no copy.",
      restart: "Start again",
      offline: "Lotse cannot be reached right now. Please try again. " +
        "In an emergency call 110 (police) or 112 (ambulance).",
    },
  };

  // What a button types for the user: Lotse understands these words in every language.
  const WORDS = { skip: "skip", today: "today", yesterday: "yesterday", done: "done",
                  print: "print", back: "back", help: "help", emergency: "emergency",
                  language: "language" };

  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const log = $("log");
  const form = $("form");
  const input = $("input");
  const status = $("status");
  const exitLink = $("exit");
  const languageButton = $("language");
  const emergencyButton = $("emergency");

  let lang = TEXTS[document.documentElement.lang] ? document.documentElement.lang : "de";
  let counter = 0;
  let queue = Promise.resolve();
  let lastEscape = 0;
  let leaving = false;

  const t = () => TEXTS[lang] || TEXTS.de;

  // --- building the page, as text only ------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function safeHref(href) {
    return typeof href === "string" &&
      /^(tel:\+?[0-9]+|mailto:[^\s]+|https?:\/\/[^\s]+|\/download\/[A-Za-z0-9_-]+)$/.test(href)
      ? href : null;
  }

  function link(href, text, external) {
    const safe = safeHref(href);
    if (!safe) return document.createTextNode(text);
    return el("a", external ? { href: safe, rel: "noopener noreferrer", target: "_blank", text }
      : { href: safe, text });
  }

  function bubble(kind) {
    // Each message keeps the language it was written in, for a screen reader's voice.
    const box = el("div", { class: `msg ${kind}`, lang });
    box.append(el("span", { class: "visually-hidden", text: `${kind === "user" ? t().you : t().lotse}: ` }));
    return box;
  }

  function textBlock(text, attrs) {
    return el("p", Object.assign({ class: "text", text }, attrs || {}));
  }

  function applyTexts() {
    const texts = t();
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-t]").forEach((node) => {
      const value = texts[node.dataset.t];
      if (typeof value === "string") node.textContent = value;
    });
    document.querySelectorAll("[data-t-aria]").forEach((node) => {
      const value = texts[node.dataset.tAria];
      if (typeof value === "string") node.setAttribute("aria-label", value);
    });
    document.querySelectorAll("[data-t-title]").forEach((node) => {
      node.title = texts[node.dataset.tTitle];
    });
    document.querySelectorAll("[data-t-placeholder]").forEach((node) => {
      node.placeholder = texts[node.dataset.tPlaceholder];
    });
    languageButton.textContent = texts.other_name;
    languageButton.lang = texts.other_lang;
    languageButton.setAttribute("aria-label", texts.other_aria);
  }

  // --- talking to the server ----------------------------------------------------------------

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function post(path, body, keepalive) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      keepalive: Boolean(keepalive),
      headers: { "Content-Type": "application/json", "X-Lotse": "1" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok || !data) {
      throw new Error(data && typeof data.message === "string" ? data.message : t().offline);
    }
    return data;
  }

  // One request at a time, in the order the user acted.
  function turn(path, body, options) {
    const opts = options || {};
    queue = queue.then(async () => {
      if (leaving) return;
      let data;
      try {
        data = await post(path, Object.assign({ lang, id: newId() }, body));
      } catch (err) {
        if (leaving) return;
        showStatus(err.message);
        if (opts.onError) opts.onError();
        return;
      }
      if (leaving) return;
      hideStatus();
      const mark = log.children.length;
      if (opts.echo) addUser(opts.echo);
      if (opts.onDone) opts.onDone();
      if (typeof data.lang === "string" && TEXTS[data.lang] && data.lang !== lang) {
        lang = data.lang;
        applyTexts();
      }
      show(Array.isArray(data.outputs) ? data.outputs : [], mark);
    });
    return queue;
  }

  function say(text, echo) {
    return turn("/api/say", { text }, { echo });
  }

  function showStatus(text) {
    status.textContent = text;
    status.hidden = false;
  }

  function hideStatus() {
    status.hidden = true;
    status.textContent = "";
  }

  function addUser(text) {
    const box = bubble("user");
    box.append(textBlock(text));
    log.append(box);
  }

  // --- outputs ------------------------------------------------------------------------------

  function retire() {
    // Answered questions keep no live buttons; documents and contact links stay.
    log.querySelectorAll(".live").forEach((node) => {
      node.classList.remove("live");
      node.querySelectorAll("button, input").forEach((control) => { control.disabled = true; });
    });
  }

  function show(outputs, mark) {
    let from = mark;
    if (outputs.some((output) => output.type === "ended" && output.erased)) {
      // "forget": the conversation is erased on the server, so it goes from the screen too.
      log.replaceChildren();
      from = 0;
    }
    const onlyChecklist = outputs.length === 1 && outputs[0].type === "checklist";
    const previous = log.querySelector(".checklist.live");
    if (onlyChecklist && previous) {
      // A tick: the list is redrawn in place, and the focus stays on the item.
      const index = Array.from(previous.querySelectorAll("button.tick"))
        .indexOf(document.activeElement);
      const fresh = checklist(outputs[0]);
      previous.replaceWith(fresh);
      const ticks = fresh.querySelectorAll("button.tick");
      (ticks[index] || ticks[0] || input).focus();
      return;
    }
    retire();
    let freeAnswer = false;
    for (const output of outputs) {
      const node = render(output);
      if (node) log.append(node);
      if (output.type === "question") freeAnswer = !output.options.length;
    }
    // The focus goes where the next answer is given: the first button of the question
    // waiting now, or the input field for a free answer.
    const groups = log.querySelectorAll(".live");
    const last = groups.length ? groups[groups.length - 1] : null;
    const first = last && !freeAnswer ? last.querySelector("button:not([disabled]), input") : null;
    (first || input).focus({ preventScroll: true });
    // What is new is read from its beginning: the first new message goes to the top.
    const start = log.children[from] || log.lastElementChild;
    if (start) start.scrollIntoView({ block: "start" });
  }

  function render(output) {
    switch (output.type) {
      case "say": {
        const box = bubble("bot");
        box.append(textBlock(output.text));
        return box;
      }
      case "question": return question(output);
      case "contacts": return contacts(output);
      case "checklist": return checklist(output);
      case "document": return documentOffer(output);
      case "ended": return ended();
      default: return null;
    }
  }

  function question(output) {
    const id = `q${++counter}`;
    const box = bubble("bot");
    box.classList.add("question");
    box.append(textBlock(output.text, { id }));
    if (output.hint) box.append(el("p", { class: "hint", text: output.hint }));
    const group = el("div", { class: "options live", role: "group", "aria-labelledby": id });
    if (output.options.length && output.multiple) {
      const boxes = output.options.map((option) => {
        const check = el("input", { type: "checkbox", id: `${id}-${option.id}`,
                                    value: String(option.number) });
        group.append(el("label", { class: "check", for: check.id }, check,
                        document.createTextNode(` ${option.label}`)));
        return { check, option };
      });
      const send = el("button", { type: "button", class: "option primary", text: t().confirm });
      send.addEventListener("click", () => {
        const chosen = boxes.filter((b) => b.check.checked);
        if (!chosen.length) {
          showStatus(t().choose_one);
          return;
        }
        group.classList.remove("live");
        group.querySelectorAll("button, input").forEach((c) => { c.disabled = true; });
        say(chosen.map((b) => b.option.number).join(", "),
            chosen.map((b) => b.option.label).join(", "));
      });
      group.append(send);
    } else if (output.options.length) {
      for (const option of output.options) {
        const button = el("button", { type: "button", class: "option", text: option.label });
        button.addEventListener("click", () => {
          group.querySelectorAll("button").forEach((b) => { b.disabled = true; });
          turn("/api/pick", { flow: output.flow, node: output.node, choice: option.id },
               { echo: option.label,
                 onError: () => group.querySelectorAll("button").forEach((b) => { b.disabled = false; }) });
        });
        group.append(button);
      }
    } else {
      const quick = output.kind === "date" ? ["today", "yesterday"] : [];
      if (output.skip) quick.push("skip");
      for (const key of quick) group.append(wordButton(key));
    }
    if (group.childNodes.length) box.append(group);
    return box;
  }

  // A button that types one of WORDS and shows its label as the user's answer.
  function wordButton(key) {
    const button = el("button", { type: "button", class: "option", text: t()[key] });
    button.addEventListener("click", () => say(WORDS[key], t()[key]));
    return button;
  }

  function contacts(output) {
    const labels = output.labels || {};
    const list = el("ul", { class: "cards" });
    for (const card of output.cards) {
      const item = el("li", { class: "card" }, el("h2", { class: "name", text: card.name }));
      const line = (label, node) => item.append(
        el("p", { class: "line" }, el("span", { class: "label", text: `${label}: ` }), node));
      if (card.phone) line(labels.phone, link(card.tel, card.phone, false));
      if (card.web) line(labels.web, link(card.href, card.web, true));
      if (card.email) line(labels.email, link(card.mailto, card.email, false));
      if (card.hours) line(labels.hours, document.createTextNode(card.hours));
      if (card.note) item.append(el("p", { class: "note", text: card.note }));
      if (card.checked) {
        item.append(el("p", { class: "checked", text: `(${labels.checked} ${card.checked})` }));
      }
      list.append(item);
    }
    const box = bubble("bot");
    box.classList.add("contacts");
    box.append(list);
    return box;
  }

  function checklist(output) {
    const id = `c${++counter}`;
    const box = bubble("bot");
    box.classList.add("checklist", "live");
    box.append(el("h2", { class: "title", id, text: output.title }));
    const list = el("ul", { class: "ticks", "aria-labelledby": id });
    for (const item of output.items) {
      const button = el("button", { type: "button", class: "tick",
                                    "aria-pressed": item.done ? "true" : "false" },
                        el("span", { class: "box", "aria-hidden": "true",
                                     text: item.done ? "✓" : "" }),
                        document.createTextNode(`${item.number}. ${item.text}`));
      button.addEventListener("click", () => {
        button.disabled = true;
        turn("/api/say", { text: String(item.number) },
             { onError: () => { button.disabled = false; } });
      });
      list.append(el("li", {}, button));
    }
    box.append(list);
    box.append(el("p", { class: "progress", text: output.progress }));
    const actions = el("div", { class: "options" });
    for (const key of ["done", "print"]) actions.append(wordButton(key));
    box.append(actions);
    return box;
  }

  function documentOffer(output) {
    const box = bubble("bot");
    box.classList.add("document");
    box.append(textBlock(output.title));
    const list = el("ul", { class: "files" });
    for (const file of output.files) {
      const href = safeHref(file.url);
      if (!href) continue;
      const kb = Math.max(1, Math.round(file.size / 1024));
      const anchor = el("a", { href, download: file.name, class: "file",
                               text: `${file.kind === "pdf" ? t().pdf : t().txt} (${kb} kB)` });
      anchor.addEventListener("click", () => {
        // One download per link: afterwards it is only a note.
        setTimeout(() => {
          anchor.replaceWith(el("span", { class: "file used",
                                          text: `${file.name}: ${t().downloaded}` }));
        }, 0);
      });
      list.append(el("li", {}, anchor));
    }
    box.append(list);
    box.append(el("p", { class: "hint",
                         text: t().download_note.replace("{minutes}", String(output.minutes)) }));
    return box;
  }

  function ended() {
    const box = bubble("bot");
    box.classList.add("ended");
    const group = el("div", { class: "options live" });
    const button = el("button", { type: "button", class: "option", text: t().restart });
    button.addEventListener("click", () => turn("/api/start", {}));
    group.append(button);
    box.append(group);
    return box;
  }

  // --- the quick exit -----------------------------------------------------------------------

  function quickExit(event) {
    if (event) event.preventDefault();
    if (leaving) return;
    leaving = true;
    const target = exitLink.getAttribute("href") || "about:blank";
    // Nothing of the conversation stays on screen, not even for the moment it takes to leave.
    document.title = "";
    document.body.replaceChildren();
    const erased = post("/api/exit", {}, true).catch(() => null);
    const pause = new Promise((resolve) => { setTimeout(resolve, 800); });
    Promise.race([erased, pause]).then(() => { window.location.replace(target); });
  }

  // --- wiring -------------------------------------------------------------------------------

  exitLink.addEventListener("click", quickExit);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const now = Date.now();
    if (now - lastEscape < 1500) quickExit(event);
    lastEscape = now;
  });

  emergencyButton.addEventListener("click", () => say(WORDS.emergency, null));
  languageButton.addEventListener("click", () => {
    say(`${WORDS.language} ${t().other_lang}`, null);
  });
  $("back").addEventListener("click", () => say(WORDS.back, null));
  $("help").addEventListener("click", () => say(WORDS.help, null));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    turn("/api/say", { text }, {
      echo: text,
      onDone: () => { if (input.value === text) input.value = ""; },
    });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  for (const id of ["app", "compose", "emergency", "language"]) $(id).hidden = false;
  document.querySelector(".skip-link").hidden = false;
  applyTexts();
  turn("/api/start", {});
})();
