// Polls /_streamlab/status and redraws; the charts are Plotly's (served by the endpoint).
"use strict";
const REFRESH_MS = 1000;
const state = { trace: null, updates: 0 };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function num(value, digits) {
  if (value === null || value === undefined) return "-";
  return digits === undefined ? String(value) : Number(value).toFixed(digits);
}
function row(cells) {
  const tr = el("tr");
  for (const [text, cls] of cells) tr.appendChild(el("td", text, cls));
  return tr;
}
function tableOf(arn) {
  const parts = (arn || "").split(":").slice(5).join(":").split("/");
  return parts[0] === "table" ? parts[1] : arn;
}
function shortFn(arn) { return (arn || "").split(":")[6] || arn; }

function drawMappings(mappings) {
  const body = document.querySelector("#mappings tbody");
  body.replaceChildren();
  for (const m of mappings) {
    const dlq = m.Dlq ? m.Dlq.messages : "-";
    body.appendChild(row([
      [m.FunctionName || shortFn(m.FunctionArn)], [tableOf(m.EventSourceArn)], [m.State],
      [m.LastProcessingResult, m.LastProcessingResult === "OK" ? "good" : (m.LastProcessingResult === "No records processed" ? "" : "bad")],
      [num(m.iteratorAgeMs, 0), "num"], [m.batches, "num"], [m.failedBatches, m.failedBatches ? "num bad" : "num"],
      [m.recordsRead, "num"], [m.recordsFiltered, "num"], [m.recordsDiscarded, "num"],
      [dlq, dlq && dlq !== "-" ? "num bad" : "num"], [m.lastError || ""],
    ]));
  }
  if (!mappings.length) body.appendChild(row([["no event source mappings", "empty"]]));
}

function drawFunctions(functions) {
  const body = document.querySelector("#functions tbody");
  body.replaceChildren();
  for (const f of functions) {
    body.appendChild(row([
      [f.FunctionName], [f.Region], [f.invocations, "num"], [f.errors, f.errors ? "num bad" : "num"],
      [f.throttles, "num"], [num(f.durationP50Ms, 1), "num"], [num(f.durationP99Ms, 1), "num"],
      [f.WarmEnvironments, "num"], [f.BusyEnvironments, "num"], [f.lastError || ""],
    ]));
  }
  if (!functions.length) body.appendChild(row([["no functions", "empty"]]));
}

const LAYOUT = {
  margin: { l: 50, r: 10, t: 10, b: 40 }, showlegend: true, legend: { orientation: "h", y: -0.2 },
  xaxis: { type: "date" }, yaxis: { rangemode: "tozero" },
};

function drawCharts(status) {
  const ageTraces = status.mappings.map((m) => ({
    type: "scatter", mode: "lines+markers", name: `${m.FunctionName} ← ${tableOf(m.EventSourceArn)}`,
    x: m.iteratorAgeSeries.map((p) => new Date(p[0] * 1000)), y: m.iteratorAgeSeries.map((p) => p[1]),
  }));
  const ageChart = document.getElementById("chart-iterator-age");
  Plotly.react(ageChart, ageTraces, LAYOUT, { displayModeBar: false, responsive: true });
  ageChart.dataset.points = String(ageTraces.reduce((n, t) => n + t.x.length, 0));

  const rateTraces = [];
  for (const f of status.functions) {
    if (!f.invocationsPerSecond.length) continue;
    rateTraces.push({
      type: "scatter", mode: "lines", name: `${f.FunctionName} invocations`,
      x: f.invocationsPerSecond.map((p) => new Date(p[0] * 1000)), y: f.invocationsPerSecond.map((p) => p[1]),
    });
    rateTraces.push({
      type: "scatter", mode: "lines", name: `${f.FunctionName} errors`, line: { dash: "dot" },
      x: f.errorsPerSecond.map((p) => new Date(p[0] * 1000)), y: f.errorsPerSecond.map((p) => p[1]),
    });
  }
  const rateChart = document.getElementById("chart-invocations");
  Plotly.react(rateChart, rateTraces, LAYOUT, { displayModeBar: false, responsive: true });
  rateChart.dataset.points = String(rateTraces.reduce((n, t) => n + t.x.length, 0));
}

function drawDlq(mappings) {
  const box = document.getElementById("dlq");
  const queues = mappings.filter((m) => m.Dlq);
  box.replaceChildren();
  if (!queues.length) { box.appendChild(el("span", "no on-failure destinations", "empty")); return; }
  for (const m of queues) {
    box.appendChild(el("div", `${m.Dlq.queueArn.split(":")[5]}: ${m.Dlq.messages} message(s) (${m.FunctionName})`));
    for (const message of m.Dlq.preview) box.appendChild(el("pre", message.body));
  }
}

function drawLogs(logs) {
  const box = document.getElementById("logs");
  box.textContent = logs.slice(-60).map((l) => `${l.function}  ${l.line}`).join("\n");
  box.scrollTop = box.scrollHeight;
}

function describeStep(step) {
  if (step.step === "read") return `read by mapping ${step.mapping.slice(0, 8)} from ${step.shardId}`;
  if (step.step === "filtered") return `dropped by the filter of mapping ${step.mapping.slice(0, 8)}`;
  if (step.step === "invoked") {
    const extra = [step.bisected ? "bisected" : "", step.reportedFailed ? "reported failed" : ""].filter(Boolean).join(", ");
    const error = step.errorType ? ` ${step.errorType}: ${step.errorMessage || ""}` : "";
    return `attempt ${step.attempt}: batch of ${step.batchSize}, request ${step.requestId || "-"}, ` +
      `${step.durationMs} ms, ${step.outcome}${error}${extra ? ` (${extra})` : ""}`;
  }
  if (step.step === "discarded") {
    const where = step.destination ? (step.delivered ? `sent to ${step.destination}` : `NOT delivered to ${step.destination}`) : "no destination: lost";
    return `discarded (${step.condition}), ${where}`;
  }
  return JSON.stringify(step);
}

function drawJourneys(journeys, title) {
  const box = document.getElementById("journey");
  box.replaceChildren(el("div", title));
  if (!journeys.length) { box.appendChild(el("span", "no record of this item was read by a mapping", "empty")); return; }
  for (const j of journeys) {
    box.appendChild(el("div", `${j.table} ${JSON.stringify(j.keys)} ${j.eventName} #${j.sequenceNumber}`));
    const list = el("ol", null, "journey");
    for (const step of j.steps) list.appendChild(el("li", describeStep(step), step.outcome && step.outcome !== "success" || step.step === "discarded" ? "bad" : ""));
    box.appendChild(list);
  }
}

async function refresh() {
  try {
    const status = await (await fetch("status", { cache: "no-store" })).json();
    drawMappings(status.mappings);
    drawFunctions(status.functions);
    drawCharts(status);
    drawDlq(status.mappings);
    drawLogs(status.logs);
    if (state.trace) {
      const q = new URLSearchParams(state.trace);
      const answer = await (await fetch(`trace?${q}`, { cache: "no-store" })).json();
      drawJourneys(answer.journeys || [], `${state.trace.table} ${state.trace.key}`);
    } else {
      drawJourneys(status.recentJourneys || [], "newest records");
    }
    state.updates += 1;
    document.body.dataset.updates = String(state.updates);
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("updated").textContent = `failed: ${error}`;
  }
}

document.getElementById("endpoint").textContent = location.host;
document.getElementById("trace-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.trace = { table: document.getElementById("trace-table").value, key: document.getElementById("trace-key").value };
  refresh();
});
const params = new URLSearchParams(location.search);
if (params.get("table") && params.get("key")) state.trace = { table: params.get("table"), key: params.get("key") };
refresh();
setInterval(refresh, REFRESH_MS);
