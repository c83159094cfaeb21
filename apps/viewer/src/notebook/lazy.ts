/**
 * KaTeX and highlight.js are large, so they are loaded on first use by
 * dynamic import and stay out of the initial bundle. `useLoaded` lets a
 * component render at once with a plain fallback and again when the module
 * arrives.
 */
import { useEffect, useState } from 'react';

export interface LazyModule<T> {
  /** The module if it has arrived. */
  current(): T | null;
  load(): Promise<T>;
}

export function lazyModule<T>(importer: () => Promise<T>): LazyModule<T> {
  let value: T | null = null;
  let pending: Promise<T> | null = null;
  return {
    current: () => value,
    load() {
      pending ??= importer().then((loaded) => {
        value = loaded;
        return loaded;
      });
      return pending;
    },
  };
}

/** The module once loaded (null before); loads it only when `wanted`. */
export function useLoaded<T>(module: LazyModule<T> | null, wanted: boolean): T | null {
  const [loaded, setLoaded] = useState<{ module: LazyModule<T>; value: T } | null>(null);
  const value =
    module === null ? null : loaded?.module === module ? loaded.value : module.current();
  useEffect(() => {
    if (!module || !wanted || value) return;
    let live = true;
    module.load().then(
      (arrived) => live && setLoaded({ module, value: arrived }),
      () => {}, // a failed chunk load leaves the plain fallback in place
    );
    return () => {
      live = false;
    };
  }, [module, wanted, value]);
  return value;
}
