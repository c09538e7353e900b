// The LcmLora page: plain JavaScript over the /v1 API (no build step).
"use strict";
const $ = (id) => document.getElementById(id);
const galleryMax = 12;
let model = null;
let current = null;   // { id, events: EventSource }

async function init() {
  const response = await fetch("/v1/model");
  const info = await response.json();
  model = info.model;
  const m = model;
  $("model").textContent = `${m.family.toUpperCase()} · ${m.source} · ${m.dType} on ${m.device} · previews ${m.previews ? "on" : "off"}`;
  for (const id of ["width", "height"]) {
    const input = $(id);
    input.step = m.sizeMultiple;
    input.min = m.sizeMultiple;
    input.max = info.limits.maxSize;
    input.value = m.nativeSize;
  }
  $("steps").max = info.limits.maxSteps;
  $("scheduler").replaceChildren(...m.schedulers.map((s) => new Option(s, s)));
  if (m.loras.length > 0) {
    const box = $("loras");
    box.hidden = false;
    for (const lora of m.loras) {
      const row = document.createElement("div");
      row.className = "lora";
      row.innerHTML = `<span></span><input type="range" min="0" max="2" step="0.05"><output></output>`;
      row.children[0].textContent = lora.name;
      const slider = row.children[1];
      slider.dataset.lora = lora.name;
      slider.value = lora.weight;
      slider.setAttribute("aria-label", `${lora.name} weight`);
      const show = () => (row.children[2].textContent = Number(slider.value).toFixed(2));
      slider.addEventListener("input", show);
      show();
      box.append(row);
    }
  }
  const jobs = await (await fetch("/v1/jobs")).json();
  for (const job of jobs.filter((j) => j.state === "succeeded").slice(0, galleryMax).reverse()) addToGallery(job);
}

function readForm() {
  const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const loras = {};
  for (const slider of document.querySelectorAll("#loras input[type=range]")) loras[slider.dataset.lora] = Number(slider.value);
  return {
    prompt: $("prompt").value,
    negativePrompt: $("negativePrompt").value || undefined,
    steps: number("steps"),
    guidance: number("guidance"),
    seed: number("seed"),
    width: number("width"),
    height: number("height"),
    scheduler: $("scheduler").value,
    loras,
  };
}

function fillForm(p) {
  $("prompt").value = p.prompt;
  $("negativePrompt").value = p.negativePrompt ?? "";
  for (const id of ["steps", "guidance", "seed", "width", "height"]) $(id).value = p[id];
  $("scheduler").value = p.scheduler;
  for (const slider of document.querySelectorAll("#loras input[type=range]")) {
    if (slider.dataset.lora in p.loras) slider.value = p.loras[slider.dataset.lora];
    slider.dispatchEvent(new Event("input"));
  }
}

function showErrors(problem) {
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  if (!problem) { $("errors").textContent = ""; return; }
  const lines = [problem.title];
  for (const [field, messages] of Object.entries(problem.errors ?? {})) {
    lines.push(`${field}: ${messages.join(" ")}`);
    $(field)?.classList.add("invalid");
  }
  if (problem.detail) lines.push(problem.detail);
  $("errors").textContent = lines.join("\n");
}

function setBusy(busy) {
  $("generate").disabled = busy;
  $("cancel").disabled = !busy;
}

function setProgress(step, total, text) {
  $("progress").max = total || 1;
  $("progress").value = step;
  $("progress-text").textContent = text;
}

async function generate(event) {
  event.preventDefault();
  showErrors(null);
  const response = await fetch("/v1/images", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(readForm()),
  });
  const body = await response.json();
  if (response.status === 429) {
    showErrors({ title: body.title, detail: `${body.detail} (Retry-After: ${response.headers.get("Retry-After")} s)` });
    return;
  }
  if (!response.ok) { showErrors(body); return; }
  setBusy(true);
  $("preview").removeAttribute("src");
  $("preview-note").textContent = model.previews ? "" : "(off: start the server with --preview-taesd)";
  setProgress(0, 1, "queued");
  const events = new EventSource(body.events);
  current = { id: body.id, events };
  events.addEventListener("step", (e) => {
    const s = JSON.parse(e.data);
    const eta = s.etaSeconds >= 1 ? `ETA ${Math.round(s.etaSeconds)} s` : `ETA ${s.etaSeconds.toFixed(1)} s`;
    setProgress(s.step, s.totalSteps, `step ${s.step}/${s.totalSteps} · ${eta}`);
    if (s.preview) {
      $("preview").src = s.preview;
      $("preview-note").textContent = `step ${s.step}`;
    }
  });
  events.addEventListener("final", (e) => {
    events.close();
    current = null;
    setBusy(false);
    const job = JSON.parse(e.data);
    if (job.state === "succeeded") {
      $("result").src = job.images[0];
      setProgress(job.totalSteps, job.totalSteps, `done in ${job.runSeconds.toFixed(1)} s · seed ${job.seed}`);
      addToGallery(job);
    } else {
      setProgress(0, 1, job.state === "cancelled" ? `cancelled at step ${job.step}` : "failed");
      if (job.error) showErrors({ title: "Generation failed", detail: job.error });
    }
  });
}

async function cancel() {
  if (!current) return;
  $("cancel").disabled = true;
  await fetch(`/v1/jobs/${current.id}`, { method: "DELETE" });
}

function addToGallery(job) {
  const p = job.parameters;
  for (const url of job.images) {
    const item = document.createElement("button");
    item.type = "button";
    item.title = "Reuse these parameters";
    const img = document.createElement("img");
    img.src = url;
    img.alt = p.prompt;
    const caption = document.createElement("small");
    const loras = Object.entries(p.loras).map(([n, w]) => `${n}:${w}`).join(" ");
    caption.textContent = `${p.prompt} · ${p.steps} steps · cfg ${p.guidance} · seed ${p.seed} · ${p.width}×${p.height} · ${p.scheduler}${loras ? " · " + loras : ""}`;
    item.append(img, caption);
    item.addEventListener("click", () => fillForm(p));
    $("gallery").prepend(item);
  }
  while ($("gallery").children.length > galleryMax) $("gallery").lastElementChild.remove();
}

$("form").addEventListener("submit", generate);
$("cancel").addEventListener("click", cancel);
$("dice").addEventListener("click", () => ($("seed").value = Math.floor(Math.random() * 2 ** 32)));
init().catch((e) => showErrors({ title: "Could not reach the server", detail: String(e) }));
