// Narrows the root package.json to the workspaces an image needs and drops the root's
// development tools, so `npm install --omit=dev` installs nothing else (the lock file still pins
// every version it keeps). Usage: node docker/workspaces.mjs packages/notebook services/runner ...
import { readFileSync, writeFileSync } from 'node:fs';

const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
manifest.workspaces = process.argv.slice(2);
delete manifest.devDependencies;
delete manifest.scripts;
writeFileSync('package.json', `${JSON.stringify(manifest, null, 2)}\n`);
