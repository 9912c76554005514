// The page is a thin client of the JSON API: /api/info, /api/pictures, /api/picture, /api/search, /api/text-search.
"use strict";

const MAX_CANVAS = { width: 560, height: 440 };
const HIT_WIDTH = 260;
const query = { image: null, file: null, picture: null, box: null, scale: 1 };
const $ = (id) => document.getElementById(id);
const boxInputs = ["box-x1", "box-y1", "box-x2", "box-y2"].map($);

async function api(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  }
  return body;
}

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the picture could not be shown"));
    image.src = url;
  });
}

function pictureUrl(name) {
  return "/api/picture?name=" + encodeURIComponent(name);
}

function drawQuery() {
  const canvas = $("query-canvas");
  const context = canvas.getContext("2d");
  if (!query.image) {
    context.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  query.scale = Math.min(MAX_CANVAS.width / query.image.naturalWidth, MAX_CANVAS.height / query.image.naturalHeight, 4);
  canvas.width = Math.round(query.image.naturalWidth * query.scale);
  canvas.height = Math.round(query.image.naturalHeight * query.scale);
  context.drawImage(query.image, 0, 0, canvas.width, canvas.height);
  if (query.box) {
    const [x1, y1, x2, y2] = query.box.map((v) => v * query.scale);
    context.lineWidth = 2;
    context.strokeStyle = "#ffd33d";
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
  }
  $("search-button").disabled = !validBox();
}

function validBox() {
  if (!query.image || !query.box) return false;
  const [x1, y1, x2, y2] = query.box;
  return x2 > x1 && y2 > y1;
}

function setBox(box, fromInputs = false) {
  query.box = box;
  if (!fromInputs) boxInputs.forEach((input, i) => (input.value = box ? Math.round(box[i]) : ""));
  drawQuery();
}

async function showQuery(url) {
  query.image = await loadImage(url);
  setBox(null);
  setStatus("Drag a box around the person.");
}

function canvasPoint(event) {
  const canvas = $("query-canvas");
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) * (canvas.width / rect.width)) / query.scale;
  const y = ((event.clientY - rect.top) * (canvas.height / rect.height)) / query.scale;
  return [
    Math.max(0, Math.min(query.image.naturalWidth, x)),
    Math.max(0, Math.min(query.image.naturalHeight, y)),
  ];
}

function watchDrag() {
  const canvas = $("query-canvas");
  let start = null;
  canvas.addEventListener("mousedown", (event) => {
    if (!query.image) return;
    start = canvasPoint(event);
    event.preventDefault();
  });
  window.addEventListener("mousemove", (event) => {
    if (!start) return;
    const [x, y] = canvasPoint(event);
    setBox([Math.min(start[0], x), Math.min(start[1], y), Math.max(start[0], x), Math.max(start[1], y)]);
  });
  window.addEventListener("mouseup", () => (start = null));
  boxInputs.forEach((input) =>
    input.addEventListener("input", () => {
      const values = boxInputs.map((i) => parseFloat(i.value));
      setBox(values.every(Number.isFinite) ? values : null, true);
    })
  );
}

function caption(hit) {
  const parts = [`similarity ${hit.score.toFixed(3)}`, `detection ${hit.detection_score.toFixed(2)}`];
  const where = hit.timestamp !== null ? `${hit.picture.split("#")[0]} at ${hit.timestamp} (frame ${hit.frame})` : hit.picture;
  return { head: `#${hit.rank}`, body: parts.join(" · "), where };
}

const CROP_HEIGHT = 96;

async function drawHit(hit, canvas, cropCanvas) {
  const image = await loadImage(hit.picture_url);
  // the person enlarged beside the caption: small people are hard to see on the scene
  const [bx1, by1, bx2, by2] = hit.box;
  const cropScale = CROP_HEIGHT / Math.max(1, by2 - by1);
  cropCanvas.height = CROP_HEIGHT;
  cropCanvas.width = Math.max(1, Math.round((bx2 - bx1) * cropScale));
  cropCanvas.getContext("2d").drawImage(image, bx1, by1, bx2 - bx1, by2 - by1, 0, 0, cropCanvas.width, CROP_HEIGHT);
  const scale = HIT_WIDTH / image.naturalWidth;
  canvas.width = HIT_WIDTH;
  canvas.height = Math.round(image.naturalHeight * scale);
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const [x1, y1, x2, y2] = hit.box.map((v) => v * scale);
  context.lineWidth = 3;
  context.strokeStyle = "#2da44e";
  context.strokeRect(x1, y1, x2 - x1, y2 - y1);
}

function showHits(response, what) {
  const list = $("hits");
  list.replaceChildren();
  $("results-title").textContent = `${response.hits.length} hits for ${what} (${Math.round(response.elapsed_ms)} ms)`;
  for (const hit of response.hits) {
    const figure = document.createElement("figure");
    figure.className = "hit";
    figure.dataset.picture = hit.picture;
    figure.dataset.rank = hit.rank;
    const canvas = document.createElement("canvas");
    const cropCanvas = document.createElement("canvas");
    cropCanvas.className = "crop";
    const text = caption(hit);
    const label = document.createElement("figcaption");
    const head = document.createElement("span");
    head.className = "rank";
    head.textContent = text.head + " ";
    label.append(head, text.body, document.createElement("br"), text.where);
    const below = document.createElement("div");
    below.className = "below";
    below.append(cropCanvas, label);
    figure.append(canvas, below);
    list.append(figure);
    drawHit(hit, canvas, cropCanvas).catch((error) => setStatus(error.message, true));
  }
  setStatus(response.hits.length ? "" : "No people in the gallery.");
}

async function searchByPicture() {
  const form = new FormData();
  form.append("box", query.box.map((v) => v.toFixed(1)).join(","));
  form.append("top_k", $("top-k").value || "10");
  if (query.file) form.append("image", query.file, query.file.name);
  else form.append("picture", query.picture);
  setStatus("Searching…");
  try {
    showHits(await api("/api/search", { method: "POST", body: form }), "the boxed person");
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function searchByText() {
  const description = $("description").value.trim();
  if (!description) return setStatus("Type a description first.", true);
  setStatus("Searching…");
  try {
    const body = JSON.stringify({ description, top_k: parseInt($("top-k").value || "10", 10) });
    const response = await api("/api/text-search", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    showHits(response, `"${description}"`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function start() {
  watchDrag();
  $("upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    query.file = file;
    query.picture = null;
    $("gallery-picture").value = "";
    await showQuery(URL.createObjectURL(file)).catch((error) => setStatus(error.message, true));
  });
  $("gallery-picture").addEventListener("change", async (event) => {
    if (!event.target.value) return;
    query.picture = event.target.value;
    query.file = null;
    $("upload").value = "";
    await showQuery(pictureUrl(query.picture)).catch((error) => setStatus(error.message, true));
  });
  $("search-button").addEventListener("click", searchByPicture);
  $("text-search-button").addEventListener("click", searchByText);
  try {
    const info = await api("/api/info");
    const videos = info.videos ? `, ${info.videos} video${info.videos > 1 ? "s" : ""}` : "";
    $("facts").textContent = `gallery ${info.name}: ${info.pictures} pictures${videos}, ${info.people} people · ` +
      `detector ${info.detector} · runtime ${info.runtime}`;
    $("text-panel").hidden = !info.text_search;
    const pictures = await api("/api/pictures?limit=2000");
    for (const name of pictures.names) $("gallery-picture").append(new Option(name, name));
  } catch (error) {
    setStatus(error.message, true);
  }
}

start();
