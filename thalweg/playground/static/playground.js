// thalweg playground: the page. Plain JavaScript, no library, no build step.
//
// The server computes every number and every pixel (thalweg's engine, in Python); this
// file only asks for runs, draws the frames it receives over the WebSocket and keeps the
// run's settings in the address bar, so that a link reproduces the run.
"use strict";

(() => {
  // ---------------------------------------------------------------- constants
  const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const REGULARIZATION_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const FEATURES = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"];
  const FEATURE_LABELS = {
    x1: "X₁", x2: "X₂", x1sq: "X₁²", x2sq: "X₂²", x1x2: "X₁X₂", sinx1: "sin(X₁)", sinx2: "sin(X₂)",
  };
  const CONFIG_KEYS = [
    "dataset", "noise", "train_fraction", "batch_size", "features", "hidden", "activation",
    "learning_rate", "regularization", "regularization_rate", "problem", "loss", "optimizer", "seed",
    "data_seed",
  ];
  const NUMBER_KEYS = new Set(["noise", "train_fraction", "batch_size", "learning_rate",
    "regularization_rate", "seed", "data_seed"]);
  const MAX_SEED = 2 ** 32 - 1;
  const MAX_LAYERS = 6;
  const MAX_NEURONS = 8;
  const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
  const NODE = 32; // px, a node's box
  const ROW = 42; // px between nodes of a column
  const FAST_FORWARD = 100; // epochs per frame
  const ORANGE = [245, 147, 34];
  const GREY = [232, 234, 235];
  const BLUE = [8, 119, 189];

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- colours
  // The Playground's scale: orange (-1) through grey (0) to blue (+1), in 31 shades.
  function mix(a, b, t) {
    return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
  }
  function continuousColour(value) {
    const v = Math.max(-1, Math.min(1, value));
    return v < 0 ? mix(GREY, ORANGE, -v) : mix(GREY, BLUE, v);
  }
  function cssColour(value) {
    const [r, g, b] = continuousColour(value);
    return `rgb(${r},${g},${b})`;
  }
  const SHADES = [];
  for (let k = 0; k <= 30; k++) {
    const a = k / 30; // 0 -> orange, 0.5 -> grey, 1 -> blue
    SHADES.push(a < 0.5 ? mix(ORANGE, GREY, a / 0.5) : mix(GREY, BLUE, (a - 0.5) / 0.5));
  }
  // A byte q stands for v = (q - 128) / 127 (q >= 128) or (q - 127) / 127 (see frames.py).
  function dequantize(q) {
    return q >= 128 ? (q - 128) / 127 : (q - 127) / 127;
  }
  function packed(rgb, alpha) { // little-endian RGBA as one 32-bit word
    return ((alpha << 24) | (rgb[2] << 16) | (rgb[1] << 8) | rgb[0]) >>> 0;
  }
  const LUT = new Uint32Array(256);
  const LUT_DISCRETE = new Uint32Array(256);
  for (let q = 0; q < 256; q++) {
    const v = dequantize(q);
    const shade = Math.min(30, Math.max(0, Math.floor(((v + 1) / 2) * 31)));
    LUT[q] = packed(SHADES[shade], 160);
    LUT_DISCRETE[q] = packed(q >= 128 ? BLUE : ORANGE, 160);
  }

  // ---------------------------------------------------------------- state
  const page = {
    config: null, // the server's normalized config of the current run
    ui: { discretize: false, show_test: false },
    sessionId: null,
    socket: null,
    sessionGone: false,
    playing: false,
    speed: 2,
    fastForward: false,
    focus: null,
    network: null, // layout: nodes, links, parameter offsets
    state: null, // the last GET .../state
    chart: { train: [], test: [] },
    pending: null, // the newest frame not drawn yet
    unacknowledged: 0,
    drawScheduled: false,
    upload: null, // { file, summary }
    datasets: [],
    generation: 0, // bumps with every new session; late replies of old ones are dropped
  };
  // Read by the tests and the benchmark (frames drawn, last epoch, ...).
  const stats = { framesReceived: 0, framesDrawn: 0, drawMilliseconds: 0, epoch: 0, trainLoss: null, testLoss: null,
    sessionId: null, regenerated: 0, startedAt: performance.now(), errors: [] };
  window.thalwegPlayground = { stats, page };

  // ---------------------------------------------------------------- errors
  function showError(message) {
    stats.errors.push(message);
    $("error-text").textContent = message;
    $("error").hidden = false;
  }
  function clearError() {
    $("error").hidden = true;
  }

  async function api(method, path, body, headers) {
    const options = { method, headers: headers || {} };
    if (body !== undefined) {
      if (body instanceof FormData || typeof body === "string") {
        options.body = body;
      } else {
        options.body = JSON.stringify(body);
        options.headers["content-type"] = "application/json";
      }
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw new Error("the playground server does not answer (is `thalweg playground` still running?)");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || `the server answered ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // ---------------------------------------------------------------- the address bar
  function parseHash() {
    const raw = {};
    const ui = {};
    const text = window.location.hash.replace(/^#/, "");
    if (!text) return { raw, ui };
    for (const part of text.split("&")) {
      const [key, value = ""] = part.split("=").map(decodeURIComponent);
      if (key === "discretize" || key === "show_test") {
        ui[key] = value === "true";
      } else if (key === "features") {
        raw.features = value === "" ? [] : value.split(",");
      } else if (key === "hidden") {
        raw.hidden = value === "" ? [] : value.split(",").map((v) => (/^\d+$/.test(v) ? Number(v) : v));
      } else if (NUMBER_KEYS.has(key)) {
        raw[key] = value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
      } else if (CONFIG_KEYS.includes(key)) {
        raw[key] = value;
      }
    }
    return { raw, ui };
  }

  function writeHash() {
    // data_seed is left out while it is null (the data of the seed)
    const keys = CONFIG_KEYS.filter((key) => page.config[key] !== null && page.config[key] !== undefined);
    const parts = keys.map((key) => {
      const value = page.config[key];
      return `${key}=${encodeURIComponent(Array.isArray(value) ? value.join(",") : String(value))}`;
    });
    parts.push(`discretize=${page.ui.discretize}`, `show_test=${page.ui.show_test}`);
    history.replaceState(null, "", `#${parts.join("&")}`);
    $("share-link").href = window.location.href;
  }

  // ---------------------------------------------------------------- sessions
  async function newSession(raw, { fallback = false } = {}) {
    const generation = ++page.generation;
    page.lastFrame = null;
    page.pending = null;
    pause(false);
    const old = page.sessionId;
    closeSocket();
    let created;
    try {
      created = await api("POST", "/api/sessions", raw);
    } catch (error) {
      if (generation !== page.generation) return;
      showError(`Could not start the run: ${error.message}`);
      if (fallback) {
        await newSession({}); // a bad link still opens the playground, with its defaults
      } else if (old && page.config) {
        syncControls(); // the menus go back to the run that still is
        openSocket(old, generation);
      }
      return;
    }
    if (old) api("DELETE", `/api/sessions/${old}`).catch(() => {});
    if (generation !== page.generation) {
      api("DELETE", `/api/sessions/${created.id}`).catch(() => {});
      return;
    }
    page.sessionId = created.id;
    page.sessionGone = false;
    page.config = created.config;
    stats.sessionId = created.id;
    let state;
    try {
      state = await api("GET", `/api/sessions/${created.id}/state`);
    } catch (error) {
      showError(`Could not read the run: ${error.message}`);
      return;
    }
    if (generation !== page.generation) return;
    page.state = state;
    page.chart = { train: [], test: [] };
    state.history.epoch.forEach((epoch, i) => {
      page.chart.train[epoch] = state.history.train_loss[i];
      page.chart.test[epoch] = state.history.test_loss[i];
    });
    writeHash();
    syncControls();
    buildNetwork();
    drawPoints();
    drawAxes();
    showNumbers(state);
    drawChart();
    drawHeatmapFromState(state);
    updateExports();
    openSocket(created.id, generation);
    stats.readySession = created.id; // drawn, in the address, its stream opening
  }

  function configWith(changes) {
    const raw = Object.assign({}, page.config, changes);
    return raw;
  }

  function change(changes) {
    const raw = configWith(changes);
    clearError();
    return newSession(raw);
  }

  async function changeLearningRate(rate) {
    clearError();
    if (page.sessionGone || !page.sessionId) return change({ learning_rate: rate });
    const generation = page.generation;
    let reply;
    try {
      reply = await api("PATCH", `/api/sessions/${page.sessionId}`, { learning_rate: rate });
    } catch (error) {
      if (generation !== page.generation) return;
      if (error.status === 404) return change({ learning_rate: rate }); // the run was reclaimed
      showError(`Could not change the learning rate: ${error.message}`);
      syncControls(); // the menu goes back to the rate the run still has
      return;
    }
    if (generation !== page.generation) return;
    page.config = reply.config;
    writeHash();
  }

  function randomSeed() {
    const value = new Uint32Array(1);
    window.crypto.getRandomValues(value);
    return Math.min(value[0], MAX_SEED);
  }

  // Regenerate, as in the TensorFlow Playground: new points (a new data seed), the same
  // network training on (same weights, same epoch count). The address records the data
  // seed beside the seed, so a link gives these points and the same starting weights.
  async function regenerate() {
    clearError();
    const dataSeed = randomSeed();
    if (page.sessionGone || !page.sessionId) return change({ data_seed: dataSeed });
    const generation = page.generation;
    let state;
    try {
      const reply = await api("PATCH", `/api/sessions/${page.sessionId}`, { data_seed: dataSeed });
      if (generation !== page.generation) return;
      page.config = reply.config;
      state = await api("GET", `/api/sessions/${page.sessionId}/state`);
    } catch (error) {
      if (generation !== page.generation) return;
      if (error.status === 404) return change({ data_seed: dataSeed }); // the run was reclaimed
      showError(`Could not regenerate the data: ${error.message}`);
      return;
    }
    if (generation !== page.generation) return;
    page.state = state;
    writeHash();
    drawPoints();
    stats.regenerated += 1;
  }

  // ---------------------------------------------------------------- the stream
  function openSocket(sessionId, generation) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/sessions/${sessionId}/stream`);
    socket.binaryType = "arraybuffer";
    page.socket = socket;
    page.unacknowledged = 0;
    socket.onmessage = (event) => {
      if (generation !== page.generation) return;
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data);
        if (message.type === "error") showError(message.error);
        return;
      }
      let frame;
      try {
        frame = parseFrame(event.data);
      } catch (error) {
        showError(`A frame could not be read: ${error.message}`);
        return;
      }
      stats.framesReceived += 1;
      page.unacknowledged += 1;
      const h = frame.header;
      for (let i = 0; i < h.n_history; i++) {
        page.chart.train[h.history_start + i] = frame.history[2 * i];
        page.chart.test[h.history_start + i] = frame.history[2 * i + 1];
      }
      page.pending = frame;
      if (!page.drawScheduled) {
        page.drawScheduled = true;
        requestAnimationFrame(drawPending);
      }
    };
    socket.onclose = (event) => {
      if (page.socket !== socket) return;
      page.socket = null;
      if (event.code === 4000 || event.code === 4404) {
        page.sessionGone = true;
        setPlaying(false);
        showError("This run was closed after 10 idle minutes; press play, step or reset to start it again.");
      } else if (event.code === 4001) {
        setPlaying(false);
      } else if (generation === page.generation) {
        setPlaying(false);
        showError("Lost the connection to the playground server. Is `thalweg playground` still running? Reload the page when it is.");
      }
    };
  }

  function closeSocket() {
    if (page.socket) {
      const socket = page.socket;
      page.socket = null;
      socket.onclose = null;
      socket.close();
    }
  }

  function send(message) {
    if (page.socket && page.socket.readyState === WebSocket.OPEN) {
      page.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  async function ensureSession() {
    if (page.sessionGone || !page.sessionId) {
      clearError();
      await newSession(page.config || {});
    }
    for (let i = 0; i < 100 && (!page.socket || page.socket.readyState !== WebSocket.OPEN); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  function parseFrame(buffer) {
    const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
    if (magic !== "TWF1") throw new Error("not a thalweg frame");
    const length = new DataView(buffer).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, length)));
    let at = 8 + length;
    const parameters = new Float32Array(buffer, at, header.n_parameters);
    at += 4 * header.n_parameters;
    const history = new Float32Array(buffer, at, 2 * header.n_history);
    at += 8 * header.n_history;
    const cells = header.grid * header.grid;
    const heatmap = new Uint8Array(buffer, at, cells);
    at += cells;
    const maps = new Uint8Array(buffer, at, header.n_maps * header.thumbnail * header.thumbnail);
    return { header, parameters, history, heatmap, maps };
  }

  function drawPending() {
    page.drawScheduled = false;
    const frame = page.pending;
    page.pending = null;
    if (frame) {
      const started = performance.now();
      drawFrame(frame);
      stats.drawMilliseconds += performance.now() - started;
    }
    while (page.unacknowledged > 0) { // the server may send the next frames now
      page.unacknowledged -= 1;
      send({ type: "ack" });
    }
  }

  // ---------------------------------------------------------------- controls
  function setPlaying(playing) {
    page.playing = playing;
    $("play").classList.toggle("playing", playing);
    $("fast-forward").classList.toggle("active", playing && page.fastForward);
  }

  async function play() {
    await ensureSession();
    send({ type: "play", epochs_per_frame: page.fastForward ? FAST_FORWARD : page.speed });
    setPlaying(true);
  }

  function pause(tell = true) {
    if (tell) send({ type: "pause" });
    setPlaying(false);
  }

  function fillSelect(select, values) {
    select.innerHTML = "";
    for (const value of values) {
      const option = document.createElement("option");
      option.value = String(value);
      option.textContent = String(value);
      select.appendChild(option);
    }
  }

  function setSelect(select, value) {
    const text = String(value);
    if (![...select.options].some((o) => o.value === text)) {
      const option = document.createElement("option");
      option.value = text;
      option.textContent = text;
      select.appendChild(option);
    }
    select.value = text;
  }

  function syncControls() {
    const c = page.config;
    setSelect($("learning-rate"), c.learning_rate);
    setSelect($("regularization-rate"), c.regularization_rate);
    for (const id of ["activation", "regularization", "problem", "loss", "optimizer"]) {
      $(id).value = c[id];
    }
    $("train-fraction").value = Math.round(c.train_fraction * 100);
    $("train-fraction-value").textContent = Math.round(c.train_fraction * 100);
    $("noise").value = c.noise;
    $("noise-value").textContent = c.noise;
    $("batch-size").value = c.batch_size;
    $("batch-size-value").textContent = c.batch_size;
    const uploaded = c.dataset.startsWith("upload-");
    $("noise").disabled = uploaded;
    $("loss").querySelector('option[value="cross_entropy"]').disabled = c.problem === "regression";
    const n = c.hidden.length;
    $("layers-label").textContent = `${n} hidden layer${n === 1 ? "" : "s"}`;
    $("discretize").checked = page.ui.discretize;
    $("show-test").checked = page.ui.show_test;
    drawDatasetChoices();
  }

  function wireControls() {
    fillSelect($("learning-rate"), LEARNING_RATES);
    fillSelect($("regularization-rate"), REGULARIZATION_RATES);
    $("play").addEventListener("click", () => (page.playing ? pause() : play()));
    $("step").addEventListener("click", async () => {
      pause(false);
      await ensureSession();
      send({ type: "step", epochs: 1 });
    });
    $("fast-forward").addEventListener("click", () => {
      page.fastForward = !page.fastForward || !page.playing;
      if (page.fastForward) play();
      else if (page.playing) play();
    });
    $("speed").addEventListener("change", () => {
      page.speed = Number($("speed").value);
      page.fastForward = false;
      if (page.playing) play();
    });
    $("reset").addEventListener("click", () => change({}));
    $("regenerate").addEventListener("click", () => regenerate());
    // New starting weights (a new seed) for the points on screen: their data seed is kept.
    $("new-weights").addEventListener("click", () => {
      const c = page.config;
      change({ seed: randomSeed(), data_seed: c.data_seed === null ? c.seed : c.data_seed });
    });
    // As in the TensorFlow Playground, a new learning rate carries the run on (same
    // weights, same epoch count); every other setting, the regularization rate included,
    // starts a new run.
    $("learning-rate").addEventListener("change", (event) => changeLearningRate(Number(event.target.value)));
    $("regularization-rate").addEventListener("change", (event) => change({ regularization_rate: Number(event.target.value) }));
    for (const id of ["activation", "regularization", "loss", "optimizer"]) {
      $(id).addEventListener("change", (event) => change({ [event.target.dataset.key]: event.target.value }));
    }
    $("problem").addEventListener("change", (event) => {
      const problem = event.target.value;
      change({ problem, dataset: problem === "regression" ? "plane" : "circle",
        loss: problem === "regression" ? "squared" : "cross_entropy" });
    });
    $("train-fraction").addEventListener("input", () => {
      $("train-fraction-value").textContent = $("train-fraction").value;
    });
    $("train-fraction").addEventListener("change", () => change({ train_fraction: Number($("train-fraction").value) / 100 }));
    $("noise").addEventListener("input", () => { $("noise-value").textContent = $("noise").value; });
    $("noise").addEventListener("change", () => change({ noise: Number($("noise").value) }));
    $("batch-size").addEventListener("input", () => { $("batch-size-value").textContent = $("batch-size").value; });
    $("batch-size").addEventListener("change", () => change({ batch_size: Number($("batch-size").value) }));
    $("add-layer").addEventListener("click", () => {
      if (page.config.hidden.length >= MAX_LAYERS) return;
      change({ hidden: [...page.config.hidden, 2] });
    });
    $("remove-layer").addEventListener("click", () => {
      if (page.config.hidden.length === 0) return;
      change({ hidden: page.config.hidden.slice(0, -1) });
    });
    $("discretize").addEventListener("change", () => {
      page.ui.discretize = $("discretize").checked;
      writeHash();
      redrawHeatmaps();
    });
    $("show-test").addEventListener("change", () => {
      page.ui.show_test = $("show-test").checked;
      writeHash();
      drawPoints();
    });
    $("error-close").addEventListener("click", clearError);
    $("export-model").addEventListener("click", download);
    $("export-python").addEventListener("click", download);
    $("upload").addEventListener("change", () => {
      const file = $("upload").files[0];
      if (file) uploadFile(file, {});
    });
    for (const id of ["upload-x1", "upload-x2", "upload-label"]) {
      $(id).addEventListener("change", () => {
        if (!page.upload) return;
        uploadFile(page.upload.file, {
          x1: $("upload-x1").value, x2: $("upload-x2").value, label: $("upload-label").value,
        });
      });
    }
    window.addEventListener("hashchange", () => {
      const { raw, ui } = parseHash();
      Object.assign(page.ui, ui);
      newSession(raw, { fallback: true });
    });
  }

  // ---------------------------------------------------------------- datasets
  function drawDatasetChoices() {
    const box = $("datasets");
    box.innerHTML = "";
    const problem = page.config ? page.config.problem : "classification";
    const choices = page.datasets.filter((d) => d.problem === problem);
    if (page.upload && page.upload.summary.problem === problem) {
      choices.push({ name: page.upload.summary.id, label: `your data (${page.upload.summary.rows} rows)`,
        points: page.upload.preview, upload: true });
    }
    for (const dataset of choices) {
      const tile = document.createElement("div");
      tile.className = "dataset";
      tile.dataset.testid = dataset.upload ? "dataset-upload" : `dataset-${dataset.name}`;
      if (page.config && page.config.dataset === dataset.name) tile.classList.add("selected");
      const canvas = document.createElement("canvas");
      canvas.width = 100;
      canvas.height = 100;
      const context = canvas.getContext("2d");
      for (const [x, y, label] of dataset.points || []) {
        context.fillStyle = cssColour(problem === "classification" ? 2 * label - 1 : label);
        context.fillRect(((x + 6) / 12) * 100 - 2, ((6 - y) / 12) * 100 - 2, 4, 4);
      }
      tile.appendChild(canvas);
      const caption = document.createElement("div");
      caption.textContent = dataset.label;
      tile.appendChild(caption);
      tile.addEventListener("click", () => {
        if (page.config && page.config.dataset === dataset.name) return;
        change({ dataset: dataset.name });
      });
      box.appendChild(tile);
    }
  }

  async function uploadFile(file, columns) {
    $("upload-error").textContent = "";
    if (file.size > MAX_UPLOAD_BYTES) {
      $("upload-error").textContent = `${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; uploads are limited to 10 MB (and 100,000 rows).`;
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [key, value] of Object.entries(columns)) if (value) form.append(key, value);
    let summary;
    try {
      summary = await api("POST", "/api/datasets", form);
    } catch (error) {
      $("upload-error").textContent = `${file.name}: ${error.message}`;
      return;
    }
    page.upload = { file, summary, preview: null };
    for (const [id, key] of [["upload-x1", "x1"], ["upload-x2", "x2"], ["upload-label", "label"]]) {
      fillSelect($(id), summary.columns);
      $(id).value = summary[key];
    }
    $("upload-columns").hidden = false;
    $("upload-info").textContent = `${summary.filename}: ${summary.rows} rows, ${summary.problem}` +
      (summary.classes ? ` (classes ${summary.classes.join(", ")})` : "");
    await change({ dataset: summary.id, problem: summary.problem,
      loss: summary.problem === "regression" ? "squared" : page.config.loss });
    if (page.state) {
      page.upload.preview = page.state.data.train.x.slice(0, 200).map((p, i) => [p[0], p[1],
        page.state.data.train.y[i]]);
      drawDatasetChoices();
    }
  }

  // ---------------------------------------------------------------- the network diagram
  function buildNetwork() {
    const c = page.config;
    const net = $("network");
    for (const old of net.querySelectorAll(".node, .node-label, .bias, .layer-control")) old.remove();
    const svg = $("links");
    svg.innerHTML = "";
    const widths = [c.features.length, ...c.hidden, 1];
    const columns = c.hidden.length + 2;
    const width = Math.max(420, net.parentElement.clientWidth - 10);
    const left = 64; // room for the feature labels
    const xOf = (column) => left + ((width - left - NODE - 10) * column) / (columns - 1);
    const top = 34; // room for the +/- neuron buttons
    const nodes = []; // {x, y, map, kind, layer, index}
    // Inputs: all seven features, the chosen ones active.
    const inputPositions = {};
    FEATURES.forEach((name, i) => {
      const node = { x: xOf(0), y: top + i * ROW, map: i, kind: "input", name,
        active: c.features.includes(name) };
      nodes.push(node);
      inputPositions[name] = node;
    });
    let mapIndex = FEATURES.length;
    const layers = [c.features.map((name) => inputPositions[name])];
    c.hidden.forEach((n, l) => {
      const layer = [];
      for (let j = 0; j < n; j++) {
        const node = { x: xOf(l + 1), y: top + j * ROW, map: mapIndex++, kind: "hidden", layer: l, index: j };
        nodes.push(node);
        layer.push(node);
      }
      layers.push(layer);
    });
    const output = { x: xOf(columns - 1), y: top, map: mapIndex++, kind: "output" };
    nodes.push(output);
    layers.push([output]);
    // Links and where their weights sit in a frame's parameter vector.
    const links = [];
    const biases = [];
    let offset = 0;
    for (let l = 0; l + 1 < layers.length; l++) {
      const from = layers[l];
      const to = layers[l + 1];
      for (let i = 0; i < from.length; i++) {
        for (let j = 0; j < to.length; j++) {
          links.push({ from: from[i], to: to[j], offset: offset + i * to.length + j, j, fan: from.length, i });
        }
      }
      offset += from.length * to.length;
      for (let j = 0; j < to.length; j++) biases.push({ node: to[j], offset: offset + j });
      offset += to.length;
    }
    const height = top + Math.max(FEATURES.length, ...c.hidden, 1) * ROW;
    net.style.height = `${height}px`;
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    const ns = "http://www.w3.org/2000/svg";
    for (const link of links) {
      const x1 = link.from.x + NODE;
      const y1 = link.from.y + NODE / 2;
      const x2 = link.to.x;
      const y2 = link.to.y + NODE / 2 + ((link.i - (link.fan - 1) / 2) / Math.max(1, link.fan)) * 12;
      const mid = (x1 + x2) / 2;
      const d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      path.setAttribute("class", "link");
      path.setAttribute("stroke", cssColour(0));
      path.setAttribute("stroke-width", "1");
      svg.appendChild(path);
      const hit = document.createElementNS(ns, "path");
      hit.setAttribute("d", d);
      hit.setAttribute("class", "hit");
      hit.addEventListener("mousemove", (event) => showHover(event, `Weight ${formatValue(link.value)}`));
      hit.addEventListener("mouseleave", hideHover);
      svg.appendChild(hit);
      link.path = path;
    }
    for (const node of nodes) {
      const box = document.createElement("div");
      box.className = `node ${node.kind}`;
      if (node.kind === "input" && !node.active) box.classList.add("inactive");
      box.style.left = `${node.x}px`;
      box.style.top = `${node.y}px`;
      box.dataset.testid = node.kind === "input" ? `feature-${node.name}` : node.kind === "output" ? "node-output" : `node-${node.layer + 1}-${node.index + 1}`;
      const canvas = document.createElement("canvas");
      canvas.width = 20;
      canvas.height = 20;
      box.appendChild(canvas);
      node.canvas = canvas;
      node.box = box;
      box.addEventListener("mouseenter", () => setFocus(node.kind === "output" ? null : node.map));
      box.addEventListener("mouseleave", () => setFocus(null));
      if (node.kind === "input") {
        box.title = `${FEATURE_LABELS[node.name]}: click to ${node.active ? "leave out" : "use"}`;
        box.addEventListener("click", () => toggleFeature(node.name));
        const label = document.createElement("div");
        label.className = "node-label";
        label.textContent = FEATURE_LABELS[node.name];
        label.style.left = `${node.x - 62}px`;
        label.style.top = `${node.y + 8}px`;
        net.appendChild(label);
      }
      net.appendChild(box);
    }
    for (const bias of biases) {
      const square = document.createElement("div");
      square.className = "bias";
      square.style.left = `${bias.node.x - 9}px`;
      square.style.top = `${bias.node.y + NODE - 7}px`;
      square.addEventListener("mousemove", (event) => showHover(event, `Bias ${formatValue(bias.value)}`));
      square.addEventListener("mouseleave", hideHover);
      net.appendChild(square);
      bias.square = square;
    }
    // + / - neurons above each hidden layer
    c.hidden.forEach((n, l) => {
      const control = document.createElement("div");
      control.className = "layer-control";
      control.style.left = `${xOf(l + 1) + NODE / 2 - 35}px`;
      control.style.top = "0px";
      const plus = document.createElement("button");
      plus.type = "button";
      plus.textContent = "+";
      plus.dataset.testid = `add-neuron-${l + 1}`;
      plus.addEventListener("click", () => {
        if (n >= MAX_NEURONS) return;
        const hidden = [...page.config.hidden];
        hidden[l] += 1;
        change({ hidden });
      });
      const minus = document.createElement("button");
      minus.type = "button";
      minus.textContent = "−";
      minus.dataset.testid = `remove-neuron-${l + 1}`;
      minus.addEventListener("click", () => {
        if (n <= 1) return;
        const hidden = [...page.config.hidden];
        hidden[l] -= 1;
        change({ hidden });
      });
      const text = document.createElement("div");
      text.textContent = `${n} neuron${n === 1 ? "" : "s"}`;
      control.append(plus, " ", minus, text);
      net.appendChild(control);
    });
    page.network = { nodes, links, biases };
    page.focus = null;
  }

  function toggleFeature(name) {
    const features = page.config.features.includes(name)
      ? page.config.features.filter((f) => f !== name)
      : [...page.config.features, name];
    if (features.length === 0) {
      showError("The network needs at least one feature.");
      return;
    }
    change({ features });
  }

  function setFocus(map) {
    if (page.focus === map) return;
    page.focus = map;
    for (const node of page.network.nodes) node.box.classList.toggle("focused", node.map === map);
    send({ type: "focus", node: map });
  }

  function formatValue(value) {
    return value === undefined || value === null ? "–" : Number(value).toPrecision(3);
  }

  function showHover(event, text) {
    const card = $("hovercard");
    card.textContent = text;
    card.hidden = false;
    card.style.left = `${event.pageX + 12}px`;
    card.style.top = `${event.pageY + 6}px`;
  }
  function hideHover() {
    $("hovercard").hidden = true;
  }

  // ---------------------------------------------------------------- drawing
  const heatmapImage = { image: null, words: null };

  function paint(canvas, cells, size) {
    const context = canvas.getContext("2d");
    const image = context.createImageData(size, size);
    const words = new Uint32Array(image.data.buffer);
    const lut = page.ui.discretize ? LUT_DISCRETE : LUT;
    for (let i = 0; i < cells.length; i++) words[i] = lut[cells[i]];
    context.putImageData(image, 0, 0);
  }

  function drawFrame(frame) {
    const h = frame.header;
    page.lastFrame = frame;
    paint($("heatmap"), frame.heatmap, h.grid);
    const t = h.thumbnail * h.thumbnail;
    if (page.network) {
      for (const node of page.network.nodes) {
        if (node.map < h.n_maps) paint(node.canvas, frame.maps.subarray(node.map * t, (node.map + 1) * t), h.thumbnail);
      }
      // Touch the SVG only where a link looks different: repainting costs more than this.
      for (const link of page.network.links) {
        const w = frame.parameters[link.offset];
        link.value = w;
        const stroke = cssColour(w);
        const width = (1 + 9 * Math.min(Math.abs(w) / 5, 1)).toFixed(1);
        if (stroke !== link.stroke) {
          link.path.setAttribute("stroke", stroke);
          link.stroke = stroke;
        }
        if (width !== link.width) {
          link.path.setAttribute("stroke-width", width);
          link.width = width;
        }
      }
      for (const bias of page.network.biases) {
        bias.value = frame.parameters[bias.offset];
        const colour = cssColour(bias.value);
        if (colour !== bias.colour) {
          bias.square.style.background = colour;
          bias.colour = colour;
        }
      }
    }
    showNumbers(h);
    drawChart();
    if (h.playing !== page.playing && !h.playing && !page.playing) setPlaying(false);
    stats.framesDrawn += 1;
  }

  function redrawHeatmaps() {
    if (page.lastFrame) drawFrame(page.lastFrame);
    else if (page.state) drawHeatmapFromState(page.state);
  }

  function drawHeatmapFromState(state) {
    const bytes = Uint8Array.from(atob(state.heatmap.data), (ch) => ch.charCodeAt(0));
    paint($("heatmap"), bytes, state.heatmap.size);
  }

  function showNumbers(h) {
    const epoch = h.epoch;
    stats.epoch = epoch;
    stats.trainLoss = h.train_loss;
    stats.testLoss = h.test_loss;
    const padded = String(epoch).padStart(6, "0");
    $("epoch").textContent = padded.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    $("epoch").dataset.value = String(epoch);
    for (const [id, value] of [["train-loss", h.train_loss], ["test-loss", h.test_loss]]) {
      $(id).textContent = value === null ? "not a number" : value.toFixed(3);
      $(id).dataset.value = value === null ? "nan" : String(value);
    }
    if (h.train_accuracy !== undefined && h.train_accuracy !== null) {
      $("accuracy").textContent = `Accuracy: training ${(100 * h.train_accuracy).toFixed(1)} %, test ${(100 * h.test_accuracy).toFixed(1)} %`;
    } else {
      $("accuracy").textContent = "";
    }
    const diagnosis = h.diagnosis;
    $("diagnosis").hidden = !diagnosis;
    $("diagnosis").textContent = diagnosis ? diagnosis.message : "";
    $("diagnosis").dataset.kind = diagnosis ? diagnosis.kind : "";
  }

  function drawChart() {
    const canvas = $("loss-chart");
    const context = canvas.getContext("2d");
    const { train, test } = page.chart;
    const n = train.length;
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (n < 2) return;
    // One point per epoch, or per pixel column when there are more epochs than columns.
    const count = Math.min(n, canvas.width);
    const epochAt = (k) => Math.round((k * (n - 1)) / (count - 1));
    const xAt = (k) => (k * (canvas.width - 1)) / (count - 1);
    let top = 0;
    for (let k = 0; k < count; k++) {
      for (const series of [train, test]) {
        const v = series[epochAt(k)];
        if (Number.isFinite(v)) top = Math.max(top, v);
      }
    }
    top = top > 0 ? top : 1;
    const yAt = (v) => canvas.height - 2 - (Math.min(v, top) / top) * (canvas.height - 6);
    for (const [series, colour] of [[train, "#999"], [test, "#000"]]) {
      context.strokeStyle = colour;
      context.lineWidth = 1.5;
      context.beginPath();
      let drawing = false;
      for (let k = 0; k < count; k++) {
        const v = series[epochAt(k)];
        if (!Number.isFinite(v)) {
          drawing = false;
          continue;
        }
        if (drawing) context.lineTo(xAt(k), yAt(v));
        else context.moveTo(xAt(k), yAt(v));
        drawing = true;
      }
      context.stroke();
    }
  }

  function drawPoints() {
    const canvas = $("points");
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (!page.state) return;
    const scale = canvas.width / 12;
    const classification = page.config.problem === "classification";
    const splits = [[page.state.data.train, "#fff"]];
    if (page.ui.show_test) splits.push([page.state.data.test, "#000"]);
    for (const [split, outline] of splits) {
      split.x.forEach(([x1, x2], i) => {
        if (Math.abs(x1) > 6 || Math.abs(x2) > 6) return;
        const label = split.y[i];
        context.beginPath();
        context.arc((x1 + 6) * scale, (6 - x2) * scale, 5, 0, 2 * Math.PI);
        context.fillStyle = cssColour(classification ? 2 * label - 1 : label);
        context.fill();
        context.lineWidth = 1.5;
        context.strokeStyle = outline;
        context.stroke();
      });
    }
  }

  function drawAxes() {
    const axes = $("axes");
    axes.innerHTML = "";
    for (const value of [-6, -4, -2, 0, 2, 4, 6]) {
      const bottom = document.createElement("span");
      bottom.textContent = String(value);
      bottom.style.left = `${((value + 6) / 12) * 300 - 5}px`;
      bottom.style.top = "302px";
      const right = document.createElement("span");
      right.textContent = String(value);
      right.style.left = "304px";
      right.style.top = `${((6 - value) / 12) * 300 - 7}px`;
      axes.append(bottom, right);
    }
    const columns = page.state ? page.state.data.columns : ["x1", "x2"];
    if (page.state && page.state.dataset) {
      const note = document.createElement("span");
      note.textContent = `x: ${columns[0]}, y: ${columns[1]} (rescaled onto -5…5)`;
      note.style.left = "0px";
      note.style.top = "316px";
      axes.appendChild(note);
    }
  }

  function drawLegend() {
    const canvas = $("legend");
    const context = canvas.getContext("2d");
    for (let x = 0; x < canvas.width; x++) {
      context.fillStyle = cssColour((x / (canvas.width - 1)) * 2 - 1);
      context.fillRect(x, 0, 1, canvas.height);
    }
  }

  // Downloads go through fetch, so that a refusal (a diverged run has no model) is shown
  // in the page instead of being saved as a file.
  async function download(event) {
    event.preventDefault();
    const link = event.currentTarget;
    let response;
    try {
      response = await fetch(link.href);
    } catch (error) {
      showError("the playground server does not answer (is `thalweg playground` still running?)");
      return;
    }
    if (!response.ok) {
      let message = `the server answered ${response.status}`;
      try {
        message = (await response.json()).error || message;
      } catch (error) { /* keep the status */ }
      showError(`Cannot download: ${message}`);
      return;
    }
    const disposition = response.headers.get("content-disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const url = URL.createObjectURL(await response.blob());
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = match ? match[1] : "download";
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function updateExports() {
    const id = page.sessionId;
    $("export-model").href = `/api/sessions/${id}/export/model`;
    $("export-python").href = `/api/sessions/${id}/export/python`;
  }

  // ---------------------------------------------------------------- start
  async function start() {
    wireControls();
    drawLegend();
    try {
      const listing = await api("GET", "/api/datasets");
      page.datasets = listing.builtin;
    } catch (error) {
      showError(error.message);
    }
    const { raw, ui } = parseHash();
    Object.assign(page.ui, ui);
    await newSession(raw, { fallback: true });
  }

  window.addEventListener("pagehide", () => {
    // Free the run at once (otherwise the server reclaims it after 10 idle minutes).
    if (page.sessionId) fetch(`/api/sessions/${page.sessionId}`, { method: "DELETE", keepalive: true }).catch(() => {});
  });
  start();
})();
