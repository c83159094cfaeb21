/**
 * Builds the public packages into installable npm tarballs: `nes` (@nes/cli), `nes-run`
 * (@nes/runner) and the packages they depend on.
 *
 * In the repository every package is TypeScript that Node runs by stripping types; Node refuses
 * to do that under node_modules, and Node 22 before 22.18 not at all. So each package is compiled
 * by tsc (JavaScript and declarations, relative imports rewritten to `.js`) into
 * out/packages/<dir>/, which mirrors the package's own tree (src/, bin/, and data such as the
 * runner's python/), so every path a module computes from its own URL holds in both. Its
 * package.json is the repository's, made publishable: exports and bins point at the JavaScript
 * with its declarations, workspace dependencies at the version built beside them, no development
 * dependencies, and the Node versions it runs on. `npm pack` then makes out/packages/*.tgz.
 *
 * Why tsc and not a bundler: the packages stay libraries with their own exports and
 * declarations (a bundle of nes-run would inline @nes/notebook and its types), and tsc is already
 * the project's type checker, so the build adds no tool.
 *
 * Usage: node scripts/build-packages.ts [--no-pack]   (prints the tarballs' paths)
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
export const PACKAGES_OUT = join(ROOT, 'out/packages');

/** The Node versions the built packages run on (their bins say so on an older one). */
export const NODE_ENGINES = '>=22';

/** Public packages, each after the packages it depends on. */
export const PUBLIC_PACKAGES = [
  'packages/run-contract',
  'packages/notebook',
  'packages/client',
  'packages/stores',
  'packages/sources',
  'packages/cli',
  'services/runner',
];

/** Data a package reads at run time, copied beside its JavaScript. */
const DATA: Record<string, string[]> = { 'services/runner': ['python'] };

interface Manifest {
  name: string;
  version: string;
  description?: string;
  exports?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  sideEffects?: boolean;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;

const js = (path: string) => path.replace(/\.ts$/, '.js');
const dts = (path: string) => path.replace(/\.ts$/, '.d.ts');

/** Workspace package name -> its directory, for every public package. */
function workspaceDirs(): Map<string, string> {
  return new Map(PUBLIC_PACKAGES.map((dir) => [readManifest(dir).name, dir]));
}

/** tsc's paths: each public dependency resolves to the declarations already built for it. */
function declarationPaths(names: Map<string, string>): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const [name, dir] of names) {
    for (const [subpath, target] of Object.entries(readManifest(dir).exports ?? {})) {
      const specifier = subpath === '.' ? name : `${name}/${subpath.replace(/^\.\//, '')}`;
      paths[specifier] = [join(PACKAGES_OUT, basename(dir), dts(target))];
    }
  }
  return paths;
}

function compile(dir: string, names: Map<string, string>): string {
  const out = join(PACKAGES_OUT, basename(dir));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tsconfig = join(PACKAGES_OUT, `tsconfig.${basename(dir)}.json`);
  const sources = ['src', 'bin'].filter((d) => existsSync(join(ROOT, dir, d)));
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        declaration: true,
        rewriteRelativeImportExtensions: true,
        rootDir: join(ROOT, dir),
        outDir: out,
        typeRoots: [join(ROOT, 'node_modules/@types')],
        paths: declarationPaths(names),
      },
      include: sources.map((d) => join(ROOT, dir, d)),
    }),
  );
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
    stdio: 'inherit',
  });
  rmSync(tsconfig);
  for (const data of DATA[dir] ?? []) {
    cpSync(join(ROOT, dir, data), join(out, data), {
      recursive: true,
      filter: (path) => !/\/(__pycache__|tests)(\/|$)/.test(path),
    });
  }
  return out;
}

/** The repository's manifest, as the built package publishes it. */
export function publishedManifest(manifest: Manifest, names: Map<string, string>): object {
  const versionOf = (name: string) => readManifest(names.get(name) as string).version;
  const pinned = (deps: Record<string, string> | undefined) =>
    deps &&
    Object.fromEntries(
      Object.entries(deps).map(([name, range]) => [
        name,
        names.has(name) ? versionOf(name) : range,
      ]),
    );
  const exportsMap =
    manifest.exports &&
    Object.fromEntries(
      Object.entries(manifest.exports).map(([subpath, target]) => [
        subpath,
        { types: dts(target), default: js(target) },
      ]),
    );
  const bins =
    manifest.bin &&
    Object.fromEntries(Object.entries(manifest.bin).map(([bin, path]) => [bin, js(path)]));
  return {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    license: 'Apache-2.0',
    type: 'module',
    engines: { node: NODE_ENGINES },
    ...(exportsMap ? { exports: exportsMap } : {}),
    ...(bins ? { bin: bins } : {}),
    ...(manifest.sideEffects === false ? { sideEffects: false } : {}),
    ...(manifest.dependencies ? { dependencies: pinned(manifest.dependencies) } : {}),
    ...(manifest.peerDependencies
      ? {
          peerDependencies: pinned(manifest.peerDependencies),
          peerDependenciesMeta: manifest.peerDependenciesMeta,
        }
      : {}),
  };
}

/** Compiles every public package; with `pack`, also makes its tarball. Returns the tarballs. */
export function buildPackages(options: { pack?: boolean } = {}): string[] {
  const names = workspaceDirs();
  mkdirSync(PACKAGES_OUT, { recursive: true });
  const tarballs: string[] = [];
  for (const dir of PUBLIC_PACKAGES) {
    const out = compile(dir, names);
    // Executable, as npm makes an installed bin, so an image can link to it directly.
    for (const bin of Object.values(readManifest(dir).bin ?? {}))
      chmodSync(join(out, js(bin)), 0o755);
    writeFileSync(
      join(out, 'package.json'),
      `${JSON.stringify(publishedManifest(readManifest(dir), names), null, 2)}\n`,
    );
    if (options.pack === false) continue;
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', PACKAGES_OUT, out], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    ) as Array<{ filename: string }>;
    tarballs.push(join(PACKAGES_OUT, packed[0]?.filename as string));
  }
  return tarballs;
}

if (import.meta.main) {
  const tarballs = buildPackages({ pack: !process.argv.includes('--no-pack') });
  for (const tarball of tarballs) process.stdout.write(`${tarball}\n`);
}
