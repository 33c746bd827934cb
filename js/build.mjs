// Builds the widget bundle: realtime_widget/static/widget.js (+ widget.css).
//
//   node build.mjs                 write into ../realtime_widget/static/
//   node build.mjs --outdir DIR    write into DIR (the drift test compares DIR with the committed files)
//
// The AudioWorklet processors are bundled on their own and inlined as strings (anywidget
// loads the module from a blob: URL, so worklets are loaded from Blob URLs too).
import * as esbuild from "esbuild";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf("--outdir");
const outdir = outIdx >= 0 ? path.resolve(args[outIdx + 1]) : path.resolve(here, "../realtime_widget/static");

// absWorkingDir + relative worklet paths: the output does not depend on where js/ is
const common = { bundle: true, target: "es2020", legalComments: "none", charset: "utf8", logLevel: "warning", absWorkingDir: here };

// `import source from "worklet:./x.js"` gives the bundled worklet as a string.
const workletPlugin = {
  name: "worklet",
  setup(build) {
    build.onResolve({ filter: /^worklet:/ }, (a) => ({
      path: path.relative(here, path.resolve(a.resolveDir, a.path.slice("worklet:".length))).split(path.sep).join("/"),
      namespace: "worklet",
    }));
    build.onLoad({ filter: /.*/, namespace: "worklet" }, async (a) => {
      const file = path.resolve(here, a.path);
      const r = await esbuild.build({ ...common, entryPoints: [file], format: "iife", write: false });
      return { contents: r.outputFiles[0].text, loader: "text", resolveDir: here, watchFiles: [file] };
    });
  },
};

const banner = { js: "// realtime-widget front end. Built from js/ by js/build.mjs: do not edit.", css: "/* realtime-widget front end. Built from js/ by js/build.mjs: do not edit. */" };

await esbuild.build({
  ...common,
  entryPoints: { widget: path.join(here, "src/index.js") },
  format: "esm",
  outdir,
  banner,
  plugins: [workletPlugin],
});
await esbuild.build({
  ...common,
  entryPoints: { widget: path.join(here, "src/widget.css") },
  outdir,
  banner,
});
const size = (await readFile(path.join(outdir, "widget.js"))).length;
console.log(`built ${path.join(outdir, "widget.js")} (${size} bytes) and widget.css`);
