// Narrows the root package.json to the workspaces an image needs and drops the root's
// development tools, so `npm install --omit=dev` installs nothing else (the lock file still pins
// every version it keeps). Usage: node docker/workspaces.mjs packages/notebook services/runner ...
//
// With --build first, the narrowed manifest also keeps what compiling those workspaces needs
// (scripts/build-packages.ts): TypeScript and their type packages become runtime dependencies of
// the root, so that `npm install --omit=dev` installs them and no other development tool.
import { readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const build = args[0] === '--build';
const workspaces = build ? args.slice(1) : args;
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
manifest.workspaces = workspaces;
if (build) {
  const tools = { typescript: manifest.devDependencies.typescript };
  for (const dir of ['.', ...workspaces]) {
    const dev = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')).devDependencies ?? {};
    for (const [name, range] of Object.entries(dev)) {
      if (name.startsWith('@types/')) tools[name] = range;
    }
  }
  manifest.dependencies = { ...manifest.dependencies, ...tools };
}
delete manifest.devDependencies;
delete manifest.scripts;
writeFileSync('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
