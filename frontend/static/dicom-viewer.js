/* The diagnostic viewer: Cornerstone3D (static/vendor/cornerstone, bundled from npm by
   `make vendor`) over the hub's own WADO-RS (/dicomweb, the reader's session). A stack viewport
   per pane: the study, and a prior of the same patient beside it. Wheel, arrow keys or the
   slider scroll; drag windows (or pans, zooms, measures, by the tool chosen); presets per
   modality; the first image is shown as soon as it arrives, the rest of the series loads
   behind it. Texts come from the page (#viewer-text), in the reader's language. */
import { core, tools, dicomImageLoader } from "./vendor/cornerstone/cornerstone.js";

const root = document.getElementById("dicom-viewer");
const T = JSON.parse(document.getElementById("viewer-text").textContent);
const DICOMWEB = root.dataset.dicomweb;
const TOOL_GROUP = "hub-viewer";
// What the viewer asks frames as: JPEG-LS lossless first, else whatever they are stored in.
const FRAME_ACCEPT = [
  'multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80',
  'multipart/related; type="application/octet-stream"; transfer-syntax=*',
].join(", ");
// Window presets (centre, width) per modality, in Hounsfield units for CT.
const PRESETS = {
  CT: [["soft_tissue", 40, 400], ["lung", -600, 1500], ["bone", 400, 1800], ["brain", 40, 80]],
  MR: [["default", 0, 0]],
  default: [["default", 0, 0]],
};
const TOOLS = {
  window: tools.WindowLevelTool,
  pan: tools.PanTool,
  zoom: tools.ZoomTool,
  length: tools.LengthTool,
  angle: tools.AngleTool,
  roi: tools.RectangleROITool,
};
const KEYS = { w: "window", p: "pan", z: "zoom", l: "length", a: "angle", r: "roi" };

function tag(item, key) {
  const element = item[key];
  return element && element.Value && element.Value.length ? element.Value[0] : undefined;
}

function say(text) {
  document.getElementById("viewer-status").textContent = text;
}

async function seriesImageIds(study, series) {
  const base = `${DICOMWEB}/studies/${study}/series/${series}`;
  const resp = await fetch(`${base}/metadata`, {
    credentials: "same-origin",
    headers: { Accept: "application/dicom+json" },
  });
  if (!resp.ok) { throw new Error(`HTTP ${resp.status}`); }
  const instances = await resp.json();
  instances.sort((a, b) => (Number(tag(a, "00200013")) || 0) - (Number(tag(b, "00200013")) || 0));
  const ids = [];
  for (const instance of instances) {
    const sop = tag(instance, "00080018");
    const frames = Number(tag(instance, "00280008")) || 1;
    for (let frame = 1; frame <= frames; frame += 1) {
      const imageId = `wadors:${base}/instances/${sop}/frames/${frame}`;
      dicomImageLoader.wadors.metaDataManager.add(imageId, instance);
      ids.push(imageId);
    }
  }
  return ids;
}

class Pane {
  constructor(engine, element, id) {
    this.engine = engine;
    this.element = element;
    this.id = id;
    this.ids = [];
    engine.enableElement({ viewportId: id, type: core.Enums.ViewportType.STACK, element });
    this.viewport = engine.getViewport(id);
    element.addEventListener(core.Enums.Events.STACK_NEW_IMAGE, () => this.announce());
  }

  async show(study, series) {
    this.ids = await seriesImageIds(study, series);
    if (!this.ids.length) { throw new Error("empty series"); }
    // setStack shows the first image once it arrived; the loader fetches the rest after it.
    await this.viewport.setStack(this.ids, 0);
    // The page may have laid out again while the image arrived (resizing a canvas clears it).
    this.engine.resize(true, true);
    this.viewport.render();
    // The rest of the series is fetched behind the shown image, nearest slices first.
    tools.utilities.stackPrefetch.enable(this.element);
    this.announce();
    return this.ids.length;
  }

  announce() {
    const index = this.viewport.getCurrentImageIdIndex();
    this.element.dataset.index = String(index);
    this.element.dataset.count = String(this.ids.length);
    const voi = this.viewport.getProperties().voiRange;
    if (voi) {
      this.element.dataset.windowWidth = String(Math.round(voi.upper - voi.lower));
      this.element.dataset.windowCentre = String(Math.round((voi.upper + voi.lower) / 2));
    }
    const label = this.element.closest("figure").querySelector(".pane-position");
    if (label) {
      label.textContent = T.position.replace("{n}", index + 1).replace("{total}", this.ids.length);
    }
    if (this.onMove) { this.onMove(index); }
  }

  scrollTo(index) {
    const target = Math.max(0, Math.min(this.ids.length - 1, index));
    return this.viewport.setImageIdIndex(target).then(() => this.announce());
  }

  window(centre, width) {
    if (width > 0) {
      this.viewport.setProperties({ voiRange: { lower: centre - width / 2, upper: centre + width / 2 } });
    } else {
      this.viewport.resetProperties();
    }
    this.viewport.render();
    this.announce();
  }
}

function activate(group, name) {
  for (const [key, Tool] of Object.entries(TOOLS)) {
    if (key !== name) { group.setToolPassive(Tool.toolName); }
  }
  group.setToolActive(TOOLS[name].toolName, {
    bindings: [{ mouseButton: tools.Enums.MouseBindings.Primary }],
  });
  for (const button of document.querySelectorAll("#viewer-tools [data-tool]")) {
    button.setAttribute("aria-pressed", String(button.dataset.tool === name));
  }
  root.dataset.tool = name;
}

function measurements() {
  const list = document.getElementById("viewer-measurements");
  const found = tools.annotation.state.getAllAnnotations();
  list.replaceChildren();
  for (const item of found) {
    const stats = item.data && item.data.cachedStats ? Object.values(item.data.cachedStats)[0] : null;
    if (!stats) { continue; }
    const li = document.createElement("li");
    const tool = item.metadata.toolName;
    li.dataset.tool = tool;
    if (stats.length !== undefined) {
      li.dataset.value = stats.length.toFixed(1);
      // Millimetres when the images carry a pixel spacing, else pixels (Cornerstone's unit).
      li.textContent = T.length.replace("{value}", `${stats.length.toFixed(1)} ${stats.unit || "mm"}`);
    } else if (stats.angle !== undefined) {
      li.dataset.value = stats.angle.toFixed(1);
      li.textContent = T.angle.replace("{deg}", stats.angle.toFixed(1));
    } else if (stats.mean !== undefined) {
      li.dataset.value = stats.mean.toFixed(1);
      li.textContent = T.roi
        .replace("{mean}", stats.mean.toFixed(1))
        .replace("{area}", `${(stats.area || 0).toFixed(0)} ${stats.areaUnit || "mm²"}`);
    } else {
      continue;
    }
    list.appendChild(li);
  }
  root.dataset.measurements = String(list.children.length);
}

async function start() {
  core.init();
  // Canvas rendering works on every phone and in browsers without WebGL; a stack of 2D
  // images needs no GPU.
  core.setUseCPURendering(true);
  dicomImageLoader.init({
    maxWebWorkers: 1,
    decodeConfig: { wasmBasePath: root.dataset.wasm },
    // Frames stored uncompressed come JPEG-LS lossless (about a third of the bytes over a
    // health post's link, the same pixels); anything else as stored.
    beforeSend: () => ({ Accept: FRAME_ACCEPT }),
  });
  tools.init();
  // How many images have arrived (for the reader's status line and the benchmark).
  let loaded = 0;
  core.eventTarget.addEventListener(core.Enums.Events.IMAGE_LOADED, () => {
    loaded += 1;
    root.dataset.loaded = String(loaded);
  });
  for (const Tool of [...Object.values(TOOLS), tools.StackScrollTool]) { tools.addTool(Tool); }
  const engine = new core.RenderingEngine("hub-engine");
  const main = new Pane(engine, document.getElementById("pane-main"), "main");
  const panes = [main];
  const group = tools.ToolGroupManager.createToolGroup(TOOL_GROUP);
  for (const Tool of [...Object.values(TOOLS), tools.StackScrollTool]) { group.addTool(Tool.toolName); }
  group.addViewport("main", "hub-engine");
  group.setToolActive(tools.StackScrollTool.toolName, {
    bindings: [{ mouseButton: tools.Enums.MouseBindings.Wheel }],
  });
  activate(group, "window");

  const slider = document.getElementById("viewer-slice");
  main.onMove = (index) => { slider.value = String(index); };
  slider.addEventListener("input", () => main.scrollTo(Number(slider.value)));

  const presetBox = document.getElementById("viewer-presets");
  function presets(modality) {
    presetBox.replaceChildren();
    for (const [name, centre, width] of PRESETS[modality] || PRESETS.default) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.dataset.preset = name;
      button.textContent = T.presets[name] || name;
      // A preset windows every pane: the study and its prior compared at the same window.
      button.addEventListener("click", () => { for (const pane of panes) { pane.window(centre, width); } });
      presetBox.appendChild(button);
    }
  }

  const seriesSelect = document.getElementById("viewer-series");
  async function openSeries() {
    const option = seriesSelect.selectedOptions[0];
    say(T.loading);
    try {
      const count = await main.show(root.dataset.study, option.value);
      slider.max = String(count - 1);
      slider.value = "0";
      presets(option.dataset.modality);
      say(T.ready);
      document.getElementById("viewer-preview")?.remove();
      root.dataset.ready = "true";
    } catch (error) {
      say(T.failed);
      root.dataset.ready = "failed";
    }
  }
  seriesSelect.addEventListener("change", openSeries);

  for (const button of document.querySelectorAll("#viewer-tools [data-tool]")) {
    button.addEventListener("click", () => activate(group, button.dataset.tool));
  }
  document.getElementById("viewer-reset").addEventListener("click", () => {
    for (const pane of panes) { pane.window(0, 0); }
  });
  document.getElementById("viewer-clear").addEventListener("click", () => {
    tools.annotation.state.removeAllAnnotations();
    engine.render();
    measurements();
  });
  for (const event of [tools.Enums.Events.ANNOTATION_COMPLETED, tools.Enums.Events.ANNOTATION_MODIFIED, tools.Enums.Events.ANNOTATION_REMOVED]) {
    core.eventTarget.addEventListener(event, () => measurements());
  }

  // Keys: arrows and Page keys scroll (direction follows the reading order), Home and End go
  // to the first and last image, letters choose a tool. Not while typing in a field.
  root.addEventListener("keydown", (event) => {
    if (event.target.matches("input, select, textarea")) { return; }
    const rtl = document.documentElement.dir === "rtl";
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10, ArrowRight: rtl ? -1 : 1, ArrowLeft: rtl ? 1 : -1 }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      main.scrollTo(main.viewport.getCurrentImageIdIndex() + step);
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      main.scrollTo(event.key === "Home" ? 0 : main.ids.length - 1);
    } else if (KEYS[event.key]) {
      activate(group, KEYS[event.key]);
    }
  });

  // A prior of the same patient beside the study.
  const priorSelect = document.getElementById("viewer-prior");
  let prior = null;
  if (priorSelect) {
    priorSelect.addEventListener("change", async () => {
      const option = priorSelect.selectedOptions[0];
      const pane = document.getElementById("pane-prior");
      const box = document.getElementById("prior-box");
      if (!option.value) { box.hidden = true; root.dataset.prior = ""; return; }
      box.hidden = false;
      if (!prior) {
        prior = new Pane(engine, pane, "prior");
        panes.push(prior);
        group.addViewport("prior", "hub-engine");
      }
      say(T.loading);
      try {
        await prior.show(option.value, option.dataset.series);
        root.dataset.prior = option.value;
        say(T.ready);
      } catch (error) {
        say(T.failed);
      }
    });
  }
  // A pane that changes size (rotation, the prior shown beside it) is fitted and redrawn.
  new ResizeObserver(() => engine.resize(true, true)).observe(document.querySelector(".viewer-panes"));
  await openSeries();
}

start().catch(() => { say(T.failed); root.dataset.ready = "failed"; });
