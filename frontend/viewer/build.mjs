// esbuild bundles of Cornerstone3D for the viewer (called by scripts/build-cornerstone).
// One source change on the way: the measurement labels' style is set through the CSSOM rather
// than a style attribute, which the hub's content security policy (style-src 'self') refuses.
import { build } from "esbuild";

const [outdir] = process.argv.slice(2);
const builtins = ["fs", "path", "url", "module", "crypto", "stream", "util", "buffer"];
const alias = Object.fromEntries(builtins.map((name) => [name, "./viewer/node-builtin.js"]));
alias.events = "./viewer/node-events.js";

const styleThroughCssom = {
  name: "style-through-cssom",
  setup(b) {
    b.onLoad({ filter: /drawingSvg[\\/]drawTextBox\.js$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      const source = await readFile(args.path, "utf8");
      const patched = source.replace(
        "textElement.setAttribute('style', combinedStyle);",
        "textElement.style.cssText = combinedStyle;",
      );
      if (patched === source) { throw new Error("drawTextBox.js changed: review the patch"); }
      return { contents: patched, loader: "js" };
    });
  },
};

const common = {
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  legalComments: "external",
  logLevel: "error",
  alias,
  plugins: [styleThroughCssom],
};
await build({ ...common, entryPoints: ["viewer/cornerstone-entry.js"], outfile: `${outdir}/cornerstone.js` });
await build({ ...common, entryPoints: ["viewer/decode-worker-entry.js"], outfile: `${outdir}/decodeImageFrameWorker.js` });
