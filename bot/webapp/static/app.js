/* The dashboard: reads the bot's /api/ with the initData Telegram signed, draws it with uPlot.
 *
 * No Telegram script is loaded (the page allows its own origin only): Telegram puts initData and the
 * theme in the URL fragment (#tgWebAppData=...&tgWebAppThemeParams=...), which is all the page needs;
 * a reload keeps them in sessionStorage because some clients drop the fragment on navigation. Events
 * to the client (ready, expand) go through the same channels telegram-web-app.js uses.
 */
"use strict";

const MINUS = "\u2212";
const STORE_KEY = "rotation-dashboard-launch";
const TOPIC_COLOURS = {breadth: "#2f6fdb", breakout: "#188038", rates: "#b26a00", sectors: "#8e44ad",
                       credit: "#c5221f", cycle: "#00838f"};
const UNIVERSE_COLOURS = {sp500: "#2f6fdb", russell2000: "#e8710a"};

/* ---- launch parameters ------------------------------------------------------------------------ */

function launchParams() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  let initData = fragment.get("tgWebAppData") || "";
  let theme = fragment.get("tgWebAppThemeParams") || "";
  try {
    if (initData) sessionStorage.setItem(STORE_KEY, JSON.stringify({initData, theme}));
    else ({initData, theme} = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}"));
  } catch (err) { /* storage refused (private mode): the fragment alone */ }
  const fields = new URLSearchParams(initData || "");
  let chat = null;
  try { chat = JSON.parse(fields.get("chat") || "null"); } catch (err) { chat = null; }
  const start = fields.get("start_param") || "";
  const chatFromStart = /^c-?\d+$/.test(start) ? start.slice(1) : null;
  return {initData: initData || "", theme: theme || "", chatId: chat && chat.id ? String(chat.id) : chatFromStart};
}

function postEvent(eventType, eventData) {
  const data = JSON.stringify(eventData || {});
  try {
    if (window.TelegramWebviewProxy && window.TelegramWebviewProxy.postEvent) {
      window.TelegramWebviewProxy.postEvent(eventType, data);
    } else if (window.parent !== window) {
      window.parent.postMessage(JSON.stringify({eventType, eventData: eventData || {}}), "*");
    }
  } catch (err) { /* outside Telegram: nothing listens */ }
}

function applyTheme(themeJson) {
  let theme = {};
  try { theme = JSON.parse(themeJson || "{}"); } catch (err) { return; }
  const names = {bg_color: "--tg-bg", text_color: "--tg-text", hint_color: "--tg-hint",
                 secondary_bg_color: "--tg-secondary-bg", button_color: "--tg-button",
                 button_text_color: "--tg-button-text"};
  for (const [key, variable] of Object.entries(names)) {
    if (typeof theme[key] === "string" && /^#[0-9a-fA-F]{3,8}$/.test(theme[key])) {
      document.documentElement.style.setProperty(variable, theme[key]);
    }
  }
}

/* ---- numbers ---------------------------------------------------------------------------------- */

const COUNT_KEYS = /(^|_)(members|members_with_200dma|new_highs|new_lows|net_new_highs|advances|declines|ad_line|constituents|with_prices|sessions|completed)$/;

function digitsFor(key) {
  if (COUNT_KEYS.test(key)) return 0;
  if (/ratio$|_ratio_|_(prior_\d+d_high|200d_avg)$/.test(key) && !/pct|_bp$/.test(key) &&
      /(spy|xlk|ief|ratio)/.test(key)) return 4;
  if (/ema$/.test(key)) return 3;
  if (/^(yield_\d+[my]|fed_target_(upper|lower))$/.test(key)) return 2;
  return 1;
}

function signed(value, digits) {
  return (typeof value === "number" && value > 0 ? "+" : "") + fmt(value, digits);
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  const text = value.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  return text.replace(/^-/, MINUS);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;  /* through the CSSOM: the CSP refuses style attributes */
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/* ---- the API ---------------------------------------------------------------------------------- */

class Api {
  constructor(initData) { this.initData = initData; }

  async call(path, options) {
    const response = await fetch(path, Object.assign({}, options, {
      headers: Object.assign({"Authorization": "tma " + this.initData}, (options || {}).headers || {}),
    }));
    let body = null;
    try { body = await response.json(); } catch (err) { body = {error: "The bot answered " + response.status + "."}; }
    return {status: response.status, body};
  }

  get(path) { return this.call(path); }

  post(path, payload) {
    return this.call(path, {method: "POST", body: JSON.stringify(payload),
                            headers: {"Content-Type": "application/json"}});
  }
}

/* ---- the readings ----------------------------------------------------------------------------- */

const BREADTH_ROWS = [
  ["index_close", "Index close"], ["index_pct_from_52w_high", "Index % from 52-week high"],
  ["index_change_20d_pct", "Index % in 20 sessions"],
  ["members", "Members"], ["pct_above_20dma", "% above 20-day"], ["pct_above_50dma", "% above 50-day"],
  ["pct_above_200dma", "% above 200-day"], ["pct_above_200dma_change_20d", "% above 200-day, 20-session change"],
  ["median_pct_from_52w_high", "Median member % from 52-week high"], ["new_highs", "New 52-week highs"],
  ["new_lows", "New 52-week lows"], ["net_new_highs", "Net new highs"], ["high_low_index", "High-low index"],
  ["advances", "Advances"], ["declines", "Declines"], ["ad_line", "A/D line"],
  ["mcclellan_oscillator", "McClellan oscillator"], ["mcclellan_summation", "McClellan summation"],
  ["zweig_thrust_ema", "Zweig thrust EMA"],
];

const GROUP_TITLES = {breakout: "Small-cap breakout", rates: "Rates", sectors: "Sectors", credit: "Credit"};

function humanize(key) {
  return key.replace(/_/g, " ").replace(/\bpct\b/g, "%").replace(/\bbp\b/g, "(bp)")
    .replace(/\b(\d+)d\b/g, "$1-day").replace(/^./, (c) => c.toUpperCase())
    .replace(/\b(iwm|spy|rut|xlk|kre|hyg|ief|xli|xlf|xle|ema)\b/gi, (c) => c.toUpperCase());
}

function renderBreadth(overview) {
  const table = document.getElementById("breadth");
  const universes = overview.universes;
  const values = overview.metrics.universes || {};
  table.replaceChildren(el("tr", {}, el("th", {}, ""), universes.map((u) => el("th", {scope: "col"}, u.label))));
  const known = new Set(BREADTH_ROWS.map(([key]) => key));
  const extra = Object.keys(values[universes[0] && universes[0].name] || {})
    .filter((key) => !known.has(key) && typeof values[universes[0].name][key] === "number")
    .map((key) => [key, humanize(key.replace(/^sector_/, "").replace(/_pct_above_50dma$/, ": % above 50-day"))]);
  const cell = (universe, key) => {  /* a reading the universe does not have is no cell of numbers */
    const has = key in (values[universe] || {});
    return el("td", {"data-path": has ? `universes.${universe}.${key}` : null}, fmt((values[universe] || {})[key], digitsFor(key)));
  };
  const row = ([key, label]) => el("tr", {}, el("th", {scope: "row"}, label), universes.map((u) => cell(u.name, key)));
  const present = ([key]) => universes.some((u) => typeof (values[u.name] || {})[key] === "number");
  table.append(...BREADTH_ROWS.filter(present).map(row));
  const more = document.getElementById("breadth-more");
  more.hidden = !extra.length;
  more.querySelector("table").replaceChildren(
    el("tr", {}, el("th", {}, ""), universes.map((u) => el("th", {scope: "col"}, u.label))), ...extra.map(row));
}

function renderMacro(overview) {
  const table = document.getElementById("macro");
  table.replaceChildren();
  for (const [group, title] of Object.entries(GROUP_TITLES)) {
    const values = overview.metrics[group];
    if (!values) continue;
    table.append(el("tr", {class: "group"}, el("th", {colspan: 2}, title)));
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== "number") continue;
      const shown = key === "curve_inverted" ? (value ? "yes" : "no") : fmt(value, digitsFor(key));
      table.append(el("tr", {}, el("th", {scope: "row"}, humanize(key)), el("td", {"data-path": `${group}.${key}`}, shown)));
    }
  }
}

function renderNow(overview) {
  document.getElementById("as-of").textContent = `Session of ${overview.as_of}`;
  document.getElementById("headline").replaceChildren(...overview.headline.map((line) => el("li", {}, line)));
  const active = document.getElementById("active");
  active.replaceChildren(...(overview.active.length ? overview.active.map((signal) =>
    el("li", {"data-key": signal.key}, el("strong", {}, signal.name), ` since ${signal.since}`,
       signal.record ? el("span", {class: "record"}, signal.record) : null))
    : [el("li", {class: "muted"}, "None: no signal is active.")]));
}

function renderCycle(overview) {
  const cycle = overview.metrics.cycle || {};
  const now = document.getElementById("cycle-now");
  if (!cycle.leader) {
    now.textContent = "Not enough history for a phase yet.";
  } else {
    const who = cycle.leader === "small" ? "Small caps lead" : "Large caps lead";
    now.textContent = `${who} (${cycle.pair}) since ${cycle.since}` +
      (cycle.confirmed ? `, confirmed ${cycle.confirmed}` : "") +
      `: ${fmt(cycle.sessions, 0)} sessions, ratio ${signed(cycle.ratio_change_pct, 1)}%` +
      (cycle.completed ? `. ${cycle.completed} completed phases, median ${fmt(cycle.median_sessions, 0)} sessions.` : ".");
  }
  document.getElementById("phases").replaceChildren(...(cycle.phases || []).slice().reverse().map((phase) =>
    el("li", {}, `${phase.leader === "small" ? "Small" : "Large"} caps from ${phase.since}: ` +
       `${fmt(phase.sessions, 0)} sessions, ratio ${signed(phase.ratio_change_pct, 1)}%` +
       (phase.ended ? "" : " (running)") + (phase.cut_by_gap ? ", cut by a data gap" : ""))));
}

function renderData(overview) {
  const data = overview.data || {};
  const items = [];
  if (data.price_basis) items.push(el("li", {}, `Prices: ${data.price_basis} closes`));
  if (data.constituents) {
    items.push(el("li", {}, `S&P 500: ${data.with_prices} of ${data.constituents} constituents have prices` +
                  ((data.missing || []).length ? ` (left out: ${data.missing.join(", ")})` : "")));
  }
  if (data.refresh) items.push(el("li", {}, `Last refresh: ${data.refresh}`));
  if (overview.warnings.length) {
    items.push(el("li", {}, el("details", {}, el("summary", {}, `${overview.warnings.length} data notes`),
                                 el("ul", {}, overview.warnings.map((note) => el("li", {class: "small"}, note))))));
  }
  document.getElementById("data-state").replaceChildren(...items);
}

/* ---- charts ----------------------------------------------------------------------------------- */

const CHARTS = [
  {title: "Index closes", marks: ["cycle:", "breakout:smallcap_leg"],
   lines: [["sp500", "index_close", "S&P 500", "y"], ["russell2000", "index_close", "Russell 2000", "r"]]},
  {title: "% of members above their 200-day", marks: ["breadth:participation_drop", "breadth:narrow_leadership",
                                                        "breadth:equal_weight_lagging"],
   lines: [["sp500", "pct_above_200dma", "S&P 500"], ["russell2000", "pct_above_200dma", "Russell 2000"]]},
  {title: "% above their 50-day", marks: [],
   lines: [["sp500", "pct_above_50dma", "S&P 500"], ["russell2000", "pct_above_50dma", "Russell 2000"]]},
  {title: "% above their 20-day", marks: ["breadth:thrust", "breadth:washout"],
   lines: [["sp500", "pct_above_20dma", "S&P 500"], ["russell2000", "pct_above_20dma", "Russell 2000"]]},
  {title: "High-low index", marks: [],
   lines: [["sp500", "high_low_index", "S&P 500"], ["russell2000", "high_low_index", "Russell 2000"]]},
  {title: "Median member % from its 52-week high", marks: ["breadth:smallcap_narrow"],
   lines: [["sp500", "median_pct_from_52w_high", "S&P 500"], ["russell2000", "median_pct_from_52w_high", "Russell 2000"]]},
  {title: "McClellan summation (0 neutral)", marks: [], zero: true,
   lines: [["sp500", "mcclellan_summation", "S&P 500"], ["russell2000", "mcclellan_summation", "Russell 2000"]]},
  {title: "IWM/SPY and its 200-day average", marks: ["breakout:iwm_spy_ratio", "breakout:iwm_52w_high"], digits: 4,
   lines: [["breakout", "iwm_spy_ratio", "IWM/SPY"], ["breakout", "iwm_spy_200d_avg", "200-day average", "y", true]]},
  {title: "Rates", marks: ["rates:"],
   lines: [["rates", "yield_2y", "2-year %"], ["rates", "fed_target_upper", "Fed target %"],
           ["rates", "spread_10y_3m_bp", "10y-3m bp", "r"]]},
  {title: "Sector ratios", marks: ["sectors:"], digits: 4,
   lines: [["sectors", "cyclicals_xlk_ratio", "Cyclicals/XLK"], ["sectors", "kre_spy_ratio", "KRE/SPY", "r"]]},
  {title: "Credit: HYG/IEF", marks: ["credit:"], digits: 4,
   lines: [["credit", "hyg_ief_ratio", "HYG/IEF"]]},
];

const MARK_ROOM = 11;  /* CSS pixels above each plot where the signal marks sit, clear of the lines */
const LINE_COLOURS = ["#2f6fdb", "#e8710a", "#188038", "#8e44ad"];

function columnOf(history, group, name) {
  const source = history.universes[group] || history[group] || {};
  return source[name] || [];
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() ||
    getComputedStyle(document.body).getPropertyValue(name).trim();
}

function markedBy(spec, mark) {
  return spec.marks.some((prefix) => mark.key === prefix ||
                                     mark.key.startsWith(prefix.endsWith(":") ? prefix : prefix + ":"));
}

/* ▲ where a signal of the chart's own keys starts, ▽ where it ends, along the plot's top edge. */
function marksPlugin(charts, spec) {
  return {hooks: {draw: [(u) => {
    const ctx = u.ctx;
    const size = 4 * devicePixelRatio;
    const top = u.bbox.top - MARK_ROOM * devicePixelRatio + 1;
    ctx.save();
    for (const mark of charts.marks) {
      if (!markedBy(spec, mark) || mark.time < u.scales.x.min || mark.time > u.scales.x.max) continue;
      const x = u.valToPos(mark.time, "x", true);
      ctx.strokeStyle = ctx.fillStyle = TOPIC_COLOURS[mark.topic] || "#777";
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      if (mark.direction === "start") {
        ctx.moveTo(x - size, top + 2 * size); ctx.lineTo(x + size, top + 2 * size); ctx.lineTo(x, top); ctx.fill();
      } else {
        ctx.moveTo(x - size, top); ctx.lineTo(x + size, top); ctx.lineTo(x, top + 2 * size); ctx.closePath(); ctx.stroke();
      }
    }
    if (spec.zero && u.scales.y.min < 0 && u.scales.y.max > 0) {
      const y = u.valToPos(0, "y", true);
      ctx.strokeStyle = cssVar("--muted") || "#888";
      ctx.setLineDash([4, 4]);
      ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
    }
    ctx.restore();
  }]}};
}

function lineColour(group, index) {
  return group in UNIVERSE_COLOURS ? UNIVERSE_COLOURS[group] : LINE_COLOURS[index];
}

function lineDigits(spec, name) {
  return spec.digits || digitsFor(name);
}

/* The charts of one history, their cursors and zoom shared; the day under the cursor is read out. */
class Charts {
  constructor(container, onDay, onRange) {
    this.container = container;
    this.onDay = onDay;
    this.onRange = onRange;
    this.plots = [];
    this.keys = [];
    this.history = null;
    this.marks = [];
    window.addEventListener("resize", () => this.resize());
  }

  /* Two charts side by side on a wide screen, one under the other on a phone. */
  width() {
    const full = this.container.clientWidth;
    return Math.max(240, full >= 900 ? Math.floor((full - 16) / 2) : full);
  }

  show(history) {
    this.history = history;
    this.marks = history.signals.map((s) => Object.assign({time: Date.parse(s.date + "T00:00:00Z") / 1000}, s));
    for (const plot of this.plots) plot.destroy();
    this.plots = [];
    this.keys = [];
    this.container.replaceChildren();
    const text = cssVar("--text") || "#222";
    const grid = "rgba(127,127,127,0.18)";
    const height = this.width() < 600 ? 140 : 180;
    for (const spec of CHARTS) {
      const lines = spec.lines.filter(([group, name]) => columnOf(history, group, name).length);
      if (!lines.length) continue;
      const values = lines.map(([group, name]) => el("span", {class: "value", "data-line": `${group}.${name}`}));
      const key = el("p", {class: "chart-key"}, lines.map(([group, , label, scale, dashed], i) =>
        el("span", {class: "swatch-line"}, el("i", {class: dashed ? "swatch dashed" : "swatch",
                                                 style: `border-color:${lineColour(group, i)}`}),
           label + (scale === "r" ? " (right)" : "") + " ", values[i])));
      const block = el("div", {class: "chart", "data-chart": spec.title});
      this.container.append(el("div", {class: "chart-cell"}, el("p", {class: "chart-title"}, spec.title), key, block));
      const series = [{}].concat(lines.map(([group, , label, scale, dashed], i) => ({
        label, scale: scale || "y", width: 1.5, dash: dashed ? [5, 4] : undefined, stroke: lineColour(group, i),
      })));
      const axisValues = (u, splits) => {
        const whole = splits.every((v) => Math.abs(v - Math.round(v)) < 1e-9);
        return splits.map((v) => fmt(v, whole ? 0 : (spec.digits ? 2 : 1)));
      };
      const axes = [{stroke: text, grid: {stroke: grid}, ticks: {stroke: grid}},
                    {scale: "y", stroke: text, grid: {stroke: grid}, ticks: {stroke: grid}, size: 50, values: axisValues}];
      if (lines.some((line) => line[3] === "r")) {
        axes.push({scale: "r", side: 1, stroke: text, grid: {show: false}, size: 50, values: axisValues});
      }
      const data = [history.time].concat(lines.map(([group, name]) => columnOf(history, group, name)));
      const plot = new uPlot({
        width: this.width(), height, series, axes, legend: {show: false}, padding: [MARK_ROOM, null, null, null],
        scales: {x: {time: true}},
        cursor: {sync: {key: "rotation", setSeries: false}, drag: {x: true, y: false, setScale: false}},
        plugins: [marksPlugin(this, spec)],
        hooks: {
          setCursor: [(u) => {
            const index = u.cursor.idx;
            if (index === null || index === undefined) return;
            values.forEach((node, i) => { node.textContent = fmt(data[i + 1][index], lineDigits(spec, lines[i][1])); });
            if (u === this.plots[0] || this.plots.length === 0) this.onDay(index);
          }],
          setSelect: [(u) => {
            if (u.select.width > 0) {
              this.zoomTo(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"), u);
            }
          }],
        },
      }, data, block);
      plot.over.addEventListener("dblclick", () => this.lastSessions(history.time.length));  /* all charts, not one */
      this.plots.push(plot);
      this.keys.push({values, data, spec, lines});
    }
    this.showValues(history.time.length - 1);
  }

  /* Every chart's key shows the values of session `index` (the cursor's, or the last). */
  showValues(index) {
    for (const {values, data, spec, lines} of this.keys) {
      values.forEach((node, i) => { node.textContent = fmt(data[i + 1][index], lineDigits(spec, lines[i][1])); });
    }
  }

  /* A zoom on one chart is a zoom on all (uPlot syncs the cursor, not the scales). */
  zoomTo(min, max, source) {
    const shown = this.history.time.filter((t) => t >= min && t <= max);
    if (shown.length) this.onRange(shown[0], shown[shown.length - 1], shown.length);
    for (const plot of this.plots) {
      plot.batch(() => {
        plot.setScale("x", {min, max});
        if (plot === source) plot.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
      });
    }
  }

  lastSessions(count) {
    const times = this.history.time;
    this.zoomTo(times[Math.max(0, times.length - count)], times[times.length - 1]);
  }

  resize() {
    const width = this.width();
    for (const plot of this.plots) plot.setSize({width, height: plot.height});
  }
}

/* Every number of one session, and the signals that started or ended on it. */
function renderDay(history, index, marks) {
  const day = new Date(history.time[index] * 1000).toISOString().slice(0, 10);
  const list = el("dl");
  for (const spec of CHARTS) {
    const byUniverse = spec.lines.some((line) => line[0] in UNIVERSE_COLOURS);
    for (const [group, name, label] of spec.lines) {
      const column = columnOf(history, group, name);
      if (!column.length) continue;
      const term = byUniverse ? `${spec.title.replace(/ \(.*\)$/, "")}, ${label}` : label;
      list.append(el("dt", {}, term), el("dd", {"data-line": `${group}.${name}`}, fmt(column[index], lineDigits(spec, name))));
    }
  }
  const happened = marks.filter((mark) => mark.date === day).map((mark) =>
    el("li", {}, `${mark.direction === "start" ? "\u25b2" : "\u25bd"} ${mark.name} ${mark.direction === "start" ? "starts" : "ends"}`));
  document.getElementById("day-date").textContent = day;
  document.getElementById("day-events").textContent = happened.length ? " · " + happened.map((li) => li.textContent).join(" · ") : "";
  document.getElementById("day").replaceChildren(el("p", {}, el("strong", {}, day)), list,
                                                 happened.length ? el("ul", {}, happened) : null);
}

/* ---- controls --------------------------------------------------------------------------------- */

class Controls {
  constructor(api, chatId, topics) {
    this.api = api;
    this.chatId = chatId;
    this.topics = topics;
    this.message = document.getElementById("control-message");
    document.getElementById("digest").addEventListener("change", (event) =>
      this.change("digest", event.target.checked));
    this.bindForm("quiet-form", () => this.change("quiet", document.getElementById("quiet").value));
    this.bindForm("timezone-form", () => this.change("timezone", document.getElementById("timezone").value));
    this.bindForm("alert-form", () => this.change("alert_add", {
      path: document.getElementById("alert-path").value.trim(),
      op: document.getElementById("alert-op").value,
      threshold: document.getElementById("alert-level").value.trim(),
    }));
  }

  bindForm(id, action) {
    document.getElementById(id).addEventListener("submit", (event) => { event.preventDefault(); action(); });
  }

  async load() {
    const query = this.chatId ? `?chat=${encodeURIComponent(this.chatId)}` : "";
    const {status, body} = await this.api.get("/api/controls" + query);
    if (status !== 200) {
      document.getElementById("controls").replaceChildren(el("h2", {}, "Your alerts"), el("p", {class: "muted"}, body.error));
      return;
    }
    this.render(body);
  }

  async change(action, value, extra) {
    this.say("Saving…", false);
    const payload = Object.assign({chat: this.chatId, action, value}, extra || {});
    const {status, body} = await this.api.post("/api/controls", payload);
    if (body.controls) this.render(body.controls);
    this.say(body.message || body.error || `The bot answered ${status}.`, status !== 200);
    if (status === 200 && action === "alert_add") document.getElementById("alert-level").value = "";
  }

  say(text, bad) {
    this.message.textContent = text;
    this.message.classList.toggle("bad", Boolean(bad));
  }

  render(controls) {
    const chatLabel = String(controls.chat).startsWith("-") ? `group ${controls.chat}` : "your private chat with the bot";
    document.getElementById("controls-for").textContent = `Settings of ${chatLabel}; the chat commands show the same.`;
    const fieldset = document.getElementById("topics");
    fieldset.replaceChildren(el("legend", {}, "Topics"), ...this.topics.map((topic) =>
      el("label", {}, el("input", {type: "checkbox", name: "topic", value: topic.name,
                                   checked: controls.topics.includes(topic.name),
                                   onchange: (event) => this.change("topic", topic.name, {on: event.target.checked})}),
         ` ${topic.label}`)));
    document.getElementById("digest").checked = controls.digest;
    const quiet = controls.quiet.start && controls.quiet.end ? `${controls.quiet.start}-${controls.quiet.end}` : "";
    document.getElementById("quiet").value = quiet;
    document.getElementById("timezone").value = controls.timezone || "";
    document.getElementById("paths").replaceChildren(...controls.paths.map((path) => el("option", {value: path})));
    const alerts = document.getElementById("alerts");
    alerts.replaceChildren(...(controls.alerts.length ? controls.alerts.map((alert) =>
      el("li", {"data-alert": alert.id}, `#${alert.id} ${alert.path} ${alert.op} ${alert.threshold} (now ${alert.now})`,
         alert.active ? null : el("span", {class: "muted"}, " paused"),
         el("button", {type: "button", "aria-label": `Delete alert ${alert.id}`,
                       onclick: () => this.change("alert_delete", alert.id)}, "Delete")))
      : [el("li", {class: "muted"}, `None yet (up to ${controls.max_alerts}).`)]));
  }
}

/* ---- the page --------------------------------------------------------------------------------- */

function deny(text) {
  document.getElementById("as-of").textContent = "";
  document.getElementById("denied-text").textContent = text;
  document.getElementById("denied").hidden = false;
  document.getElementById("content").hidden = true;
}

async function main() {
  const launch = launchParams();
  applyTheme(launch.theme);
  postEvent("web_app_ready");
  postEvent("web_app_expand");
  if (!launch.initData) {
    deny("Open this page from the bot in Telegram: its Dashboard button signs you in.");
    return;
  }
  const api = new Api(launch.initData);
  const [overviewAnswer, historyAnswer] = await Promise.all([api.get("/api/overview"), api.get("/api/history?span=5y")]);
  if (overviewAnswer.status === 401) { deny(overviewAnswer.body.error); return; }
  if (overviewAnswer.status !== 200) {
    document.getElementById("as-of").textContent = overviewAnswer.body.error;
    return;
  }
  const overview = overviewAnswer.body;
  document.getElementById("content").hidden = false;
  renderNow(overview);
  renderBreadth(overview);
  renderMacro(overview);
  renderCycle(overview);
  renderData(overview);
  new Controls(api, launch.chatId, overview.topics).load();

  const histories = {};
  const range = document.getElementById("range");
  const day = (time) => new Date(time * 1000).toISOString().slice(0, 10);
  const showRange = (first, last, count) => {
    range.textContent = `${day(first)} to ${day(last)} (${fmt(count, 0)} sessions)`;
  };
  const charts = new Charts(document.getElementById("charts"),
                            (index) => renderDay(charts.history, index, charts.marks), showRange);
  const showHistory = (history) => {
    charts.show(history);
    showRange(history.time[0], history.time[history.time.length - 1], history.time.length);
    renderDay(history, history.time.length - 1, charts.marks);
  };
  if (historyAnswer.status !== 200) {
    range.textContent = historyAnswer.body.error;
    return;
  }
  histories["5y"] = historyAnswer.body;
  showHistory(histories["5y"]);
  for (const button of document.querySelectorAll(".spans button")) {
    button.addEventListener("click", async () => {
      const span = button.dataset.span;
      document.querySelectorAll(".spans button").forEach((other) => other.classList.toggle("on", other === button));
      if (span === "1y") {
        if (charts.history !== histories["5y"]) showHistory(histories["5y"]);
        charts.lastSessions(252);
        return;
      }
      if (span === "5y" && charts.history === histories["5y"]) {
        charts.lastSessions(histories["5y"].time.length);
        return;
      }
      if (!histories[span]) {
        range.textContent = "Loading…";
        const answer = await api.get(`/api/history?span=${span}`);
        if (answer.status !== 200) { range.textContent = answer.body.error; return; }
        histories[span] = answer.body;
      }
      showHistory(histories[span]);
    });
  }
}

main().catch((err) => {
  document.getElementById("as-of").textContent = "The dashboard could not load: " + err.message;
});
