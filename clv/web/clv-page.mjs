// The scoring page: opens clv.duckdb in DuckDB-WASM and calls the compiled macros on a customer's
// feature row, as published and with the user's edits. URL parameters: customer=<id> picks the
// customer, set=<feature>:<value>,... applies edits on load (what the headless test uses).
import * as duckdb from "@duckdb/duckdb-wasm";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { conn: null, rows: null, features: [], published: {}, edits: new Map(), customer: null };

function status(kind, text) {
  $("status").dataset.state = kind;
  $("status").textContent = text;
  document.body.dataset.state = kind;
}

function quoted(name) {
  return '"' + name.replaceAll('"', '""') + '"';
}

function shown(value, digits) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" ? value.toFixed(digits) : String(value);
}

function put(id, value, digits) {
  $(id).textContent = shown(value, digits);
  $(id).dataset.value = value === null || value === undefined ? "" : String(value);
}

async function open() {
  const dist = new URL(document.querySelector('meta[name="duckdb-wasm-dist"]').content, document.baseURI).href;
  const bundle = await duckdb.selectBundle({
    mvp: { mainModule: dist + "duckdb-mvp.wasm", mainWorker: dist + "duckdb-browser-mvp.worker.js" },
    eh: { mainModule: dist + "duckdb-eh.wasm", mainWorker: dist + "duckdb-browser-eh.worker.js" },
  });
  // A worker from another origin (the CDN) cannot be started directly; a same-origin blob can load it.
  const script = URL.createObjectURL(new Blob([`importScripts("${bundle.mainWorker}");`], { type: "text/javascript" }));
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), new Worker(script));
  await db.instantiate(bundle.mainModule, bundle.pthreadWorker);
  URL.revokeObjectURL(script);
  const response = await fetch("clv.duckdb");
  if (!response.ok) throw new Error(`clv.duckdb: HTTP ${response.status}`);
  await db.registerFileBuffer("clv.duckdb", new Uint8Array(await response.arrayBuffer()));
  const conn = await db.connect();
  await conn.query("ATTACH 'clv.duckdb' AS clv (READ_ONLY)");
  await conn.query("USE clv");
  return conn;
}

async function rowsOf(sql, ...args) {
  const statement = await state.conn.prepare(sql);
  try {
    return (await statement.query(...args)).toArray().map((r) => r.toJSON());
  } finally {
    await statement.close();
  }
}

function number(value) {
  return typeof value === "bigint" ? Number(value) : value;
}

// The scoring date's rows (the published features hold the training cutoffs' rows too).
function scoringRows() {
  return state.rows === "fct_customer_features" ? "(SELECT * FROM fct_customer_features WHERE cutoff_role = 'scoring')" : state.rows;
}

// The customer's feature row as a subquery, with the edits in place of the published values.
function customerRow(edited) {
  const replaced = edited ? [...state.edits].map(([name, value]) => `${value === null ? "NULL" : value}::DOUBLE AS ${quoted(name)}`) : [];
  const replace = replaced.length ? ` REPLACE (${replaced.join(", ")})` : "";
  return `(SELECT *${replace} FROM ${scoringRows()} WHERE CAST(customer_id AS VARCHAR) = ?)`;
}

const SCORES = "SELECT predict_clv(f) AS value, churn_score(f) AS churn, segment_name(customer_segment(f)) AS segment";

async function score() {
  const [edited] = await rowsOf(`${SCORES} FROM ${customerRow(true)} f`, state.customer);
  put("whatif-value", number(edited.value), 2);
  put("whatif-churn", number(edited.churn), 4);
  put("whatif-segment", edited.segment);
  const n = state.edits.size;
  document.body.dataset.scorings = String(Number(document.body.dataset.scorings || 0) + 1);
  status("scored", `Scored customer ${state.customer} in DuckDB-WASM` + (n ? ` with ${n} edited feature${n > 1 ? "s" : ""}.` : "."));
}

function drawFeatures() {
  const items = state.features.map((name) => {
    const published = state.published[name];
    const item = document.createElement("label");
    item.className = "feature";
    item.classList.toggle("edited", state.edits.has(name));
    const text = document.createElement("span");
    text.textContent = name;
    text.title = name;
    const was = document.createElement("small");
    was.textContent = "published " + (published === null ? "unknown" : String(Number(published.toPrecision(8))));
    text.append(was);
    const input = document.createElement("input");
    input.inputMode = "decimal";
    input.dataset.feature = name;
    const value = state.edits.has(name) ? state.edits.get(name) : published;
    input.value = value === null ? "" : String(value);
    input.addEventListener("input", () => edit(name, input.value, item));
    item.append(text, input);
    return item;
  });
  $("features").replaceChildren(...items);
}

let pending = null;
function edit(name, text, item) {
  const trimmed = text.trim();
  const value = trimmed === "" ? null : Number(trimmed);
  if (value !== null && !Number.isFinite(value)) {
    status("error", `${name}: "${text}" is not a number; type a number, or leave it empty for unknown.`);
    return;
  }
  if (value === state.published[name]) state.edits.delete(name);
  else state.edits.set(name, value);
  item.classList.toggle("edited", state.edits.has(name));
  clearTimeout(pending);
  pending = setTimeout(() => score().catch(fail), 150);
}

async function load(customer) {
  const [row] = await rowsOf(`SELECT * FROM ${customerRow(false)} f`, customer);
  if (!row) {
    status("error", `No customer ${customer} among the ${state.count} scored customers; pick another id.`);
    return false;
  }
  state.customer = customer;
  state.published = Object.fromEntries(state.features.map((f) => [f, number(row[f])]));
  const [published] = await rowsOf(`${SCORES} FROM ${customerRow(false)} f`, customer);
  put("published-value", number(published.value), 2);
  put("published-churn", number(published.churn), 4);
  put("published-segment", published.segment);
  $("customer").value = customer;
  drawFeatures();
  await score();
  return true;
}

function fail(error) {
  status("error", String(error && error.message ? error.message : error).split("\n")[0]);
}

async function main() {
  state.conn = await open();
  const tables = await rowsOf("SELECT table_name FROM information_schema.tables WHERE table_catalog = 'clv'");
  state.rows = tables.some((t) => t.table_name === "ml_scoring_set") ? "ml_scoring_set" : "fct_customer_features";
  state.features = (await rowsOf("SELECT feature FROM clv_features ORDER BY position")).map((r) => r.feature);
  const models = await rowsOf("SELECT task, model, version FROM clv_sql_models ORDER BY task");
  $("models").textContent = "Champions compiled to SQL: " + models.map((m) => `${m.task} ${m.model}/${m.version}`).join(", ") + ". Nothing leaves this page.";
  const [{ n }] = await rowsOf(`SELECT count(*)::INTEGER AS n FROM ${scoringRows()}`);
  // Without a customer in the address, the page opens on the customer with the highest predicted CLV.
  const [{ first }] = await rowsOf(
    `SELECT CAST(arg_max(r.customer_id, s.predicted_clv) AS VARCHAR) AS first FROM ${scoringRows()} r ` +
      "JOIN customer_scores s ON CAST(s.customer_id AS VARCHAR) = CAST(r.customer_id AS VARCHAR)",
  );
  state.count = n;
  $("count").textContent = `${n.toLocaleString()} customers`;
  for (const pair of (params.get("set") || "").split(",").filter(Boolean)) {
    const [name, text] = pair.split(":");
    if (!state.features.includes(name)) throw new Error(`set=${pair}: ${name} is not a feature of the models`);
    const value = text === "" ? null : Number(text);
    if (value !== null && !Number.isFinite(value)) throw new Error(`set=${pair}: ${text} is not a number`);
    state.edits.set(name, value);
  }
  $("pick").addEventListener("submit", (event) => {
    event.preventDefault();
    state.edits.clear();
    load($("customer").value.trim()).catch(fail);
  });
  $("reset").addEventListener("click", () => {
    state.edits.clear();
    drawFeatures();
    score().catch(fail);
  });
  await load(params.get("customer") || first);
}

main().catch(fail);
