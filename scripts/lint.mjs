// Repository checks that the type checker does not make:
// - no focused or skipped tests (`.only`, `.skip`, `.todo`, `xit`, `xdescribe`);
// - no `any` in package sources (public signatures stay typed);
// - every package has a README, a LICENSE and an `index.ts` that only re-exports.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const problems = [];
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });

for (const pkg of readdirSync("packages")) {
  const root = join("packages", pkg);
  for (const file of ["README.md", "LICENSE", "src/index.ts"]) {
    if (!existsSync(join(root, file))) problems.push(`${root}: missing ${file}`);
  }
  if (existsSync(join(root, "test"))) {
    for (const file of walk(join(root, "test")).filter((f) => f.endsWith(".ts"))) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/\b(it|test|describe)\.(only|skip|todo)\s*\(|\b(xit|xdescribe|xtest)\s*\(/.test(line)) {
            problems.push(`${file}:${i + 1}: focused or skipped test`);
          }
        });
    }
  }
  if (existsSync(join(root, "src"))) {
    for (const file of walk(join(root, "src")).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(file, "utf8");
      text.split("\n").forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, "");
        if (/[:<,(]\s*any\b(?![\w-])/.test(code) && !code.trim().startsWith("*")) problems.push(`${file}:${i + 1}: \`any\` in a package source`);
      });
      if (file.endsWith("index.ts")) {
        const statements = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "").split(";").map((s) => s.trim()).filter(Boolean);
        for (const s of statements) if (!/^export\b/.test(s)) problems.push(`${file}: index.ts must only re-export, found: ${s.slice(0, 60)}`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("lint: ok");
