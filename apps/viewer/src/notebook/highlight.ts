/**
 * Syntax highlighting with highlight.js, loaded lazily: the core on the first
 * code cell, and each language grammar on first use. Until both have
 * arrived a cell shows its source as plain escaped text.
 */
import type { HLJSApi, LanguageFn } from 'highlight.js';
import { escapeHtml } from './katex.ts';
import { type LazyModule, lazyModule } from './lazy.ts';
import { type CleanHtml, cleanHtml } from './Markup.tsx';

type GrammarLoader = () => Promise<{ default: LanguageFn }>;

const GRAMMARS: Record<string, GrammarLoader> = {
  python: () => import('highlight.js/lib/languages/python'),
  r: () => import('highlight.js/lib/languages/r'),
  julia: () => import('highlight.js/lib/languages/julia'),
  javascript: () => import('highlight.js/lib/languages/javascript'),
  typescript: () => import('highlight.js/lib/languages/typescript'),
  bash: () => import('highlight.js/lib/languages/bash'),
  sql: () => import('highlight.js/lib/languages/sql'),
  scala: () => import('highlight.js/lib/languages/scala'),
  java: () => import('highlight.js/lib/languages/java'),
  go: () => import('highlight.js/lib/languages/go'),
  rust: () => import('highlight.js/lib/languages/rust'),
  cpp: () => import('highlight.js/lib/languages/cpp'),
  c: () => import('highlight.js/lib/languages/c'),
  json: () => import('highlight.js/lib/languages/json'),
  yaml: () => import('highlight.js/lib/languages/yaml'),
  xml: () => import('highlight.js/lib/languages/xml'),
  markdown: () => import('highlight.js/lib/languages/markdown'),
};

const ALIASES: Record<string, string> = {
  python2: 'python',
  python3: 'python',
  ipython: 'python',
  ipython3: 'python',
  py: 'python',
  sh: 'bash',
  shell: 'bash',
  zsh: 'bash',
  js: 'javascript',
  node: 'javascript',
  ts: 'typescript',
  'c++': 'cpp',
  html: 'xml',
  md: 'markdown',
  yml: 'yaml',
  golang: 'go',
};

/** The highlight.js grammar name for a kernel or fence language, or null if we have none. */
export function grammarName(language: string | undefined): string | null {
  if (!language) return null;
  const lower = language.trim().toLowerCase();
  const name = ALIASES[lower] ?? lower;
  return name in GRAMMARS ? name : null;
}

const coreModule = lazyModule<HLJSApi>(async () => (await import('highlight.js/lib/core')).default);
const grammarModules = new Map<string, LazyModule<HLJSApi>>();

/** A lazy highlighter with `name`'s grammar registered (null for plain text). */
export function highlighterFor(name: string | null): LazyModule<HLJSApi> | null {
  if (name === null) return null;
  let module = grammarModules.get(name);
  if (!module) {
    const loader = GRAMMARS[name];
    if (!loader) return null;
    module = lazyModule(async () => {
      const [hljs, grammar] = await Promise.all([coreModule.load(), loader()]);
      if (!hljs.getLanguage(name)) hljs.registerLanguage(name, grammar.default);
      return hljs;
    });
    grammarModules.set(name, module);
  }
  return module;
}

const combined = new Map<string, LazyModule<HLJSApi>>();

/** A lazy highlighter with all of `names`' grammars registered (null for none). */
export function highlighterForAll(names: readonly string[]): LazyModule<HLJSApi> | null {
  if (names.length === 0) return null;
  if (names.length === 1) return highlighterFor(names[0] ?? null);
  const key = [...names].sort().join(',');
  let module = combined.get(key);
  if (!module) {
    const parts = names.map(highlighterFor).filter((part) => part !== null);
    module = lazyModule(
      async () => (await Promise.all(parts.map((part) => part.load())))[0] as HLJSApi,
    );
    combined.set(key, module);
  }
  return module;
}

const CACHE_LIMIT = 500;
const CACHE_MAX_CHARS = 64 * 1024;
const cache = new Map<string, CleanHtml>();

/**
 * Highlighted HTML (highlight.js escapes the code), or the escaped code
 * without a highlighter. Remembered by source, so a cell scrolled back into
 * view is not highlighted again.
 */
export function highlight(hljs: HLJSApi | null, name: string | null, code: string): CleanHtml {
  if (!hljs || name === null || !hljs.getLanguage(name)) return cleanHtml(escapeHtml(code));
  const key = `${name}\u0000${code}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const html = cleanHtml(hljs.highlight(code, { language: name, ignoreIllegals: true }).value);
  if (code.length > CACHE_MAX_CHARS) return html;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, html);
  return html;
}
