// Runs a wasm32-wasip1 program under Node.js's WASI: wasi-run.mjs PROGRAM.wasm [ARGUMENTS...].
// No directory is opened to it and its environment is empty; its exit status is node's.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";

const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [program, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
