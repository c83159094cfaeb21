/**
 * Cell ids (nbformat 4.5). nbformat's own rules, which we follow:
 * - reading a 4.5 notebook fills in missing ids and replaces duplicates (`validate` with
 *   `repair_duplicate_cell_ids`); we do the same in `readNotebook`;
 * - reading 4.0-4.4 keeps the version and adds no ids (ids are invalid before 4.5);
 * - `nbformat.v4.upgrade` moves 4.0-4.4 to 4.5 and gives every cell a new id. papermill calls it
 *   when it loads a notebook, so its outputs are always 4.5; `parameterize` does the same here.
 *
 * nbformat draws ids at random; ours derive from the cell's position and source so the same
 * input gives the same output notebook, run after run. Existing valid unique ids are kept.
 */
import type { Cell, Notebook } from './nbformat.ts';
import { CELL_ID_PATTERN } from './validate.ts';

/** The newest minor version this package reads and writes. */
const CURRENT_NBFORMAT_MINOR = 5;

const utf8 = new TextEncoder();

/**
 * FNV-1a, 32 bits, of the text's UTF-8 bytes, as 8 hex digits. Not a cryptographic hash (an id
 * needs none: a collision only moves to the next attempt), and pure, so it runs in the browser.
 */
function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * An 8-hex-digit id (the length nbformat uses) derived from `seed`, not in `taken`.
 * Adds the chosen id to `taken`.
 */
export function deterministicCellId(seed: string, taken: Set<string>): string {
  for (let attempt = 0; ; attempt++) {
    const id = fnv1a32(`${seed}\0${attempt}`);
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}

/**
 * For 4.5 and later: the same cells, each with a valid id unique in the notebook. The first
 * occurrence of an id keeps it; missing, malformed or repeated ones get a deterministic id.
 * Earlier versions are returned unchanged. Never mutates its input.
 */
export function ensureCellIds(nb: Notebook): Notebook {
  if (nb.nbformat_minor < CURRENT_NBFORMAT_MINOR) return nb;
  const kept = new Set<string>();
  const keeps = nb.cells.map((cell) => {
    const id = cell.id;
    if (id === undefined || !CELL_ID_PATTERN.test(id) || kept.has(id)) return false;
    kept.add(id);
    return true;
  });
  if (keeps.every(Boolean)) return nb;
  const cells = nb.cells.map(
    (cell, index): Cell =>
      keeps[index] ? cell : { ...cell, id: deterministicCellId(idSeed(cell, index), kept) },
  );
  return { ...nb, cells };
}

/**
 * `nbformat.v4.upgrade` for 4.0-4.4: the notebook as 4.5, every cell with a fresh (here
 * deterministic) id. 4.5 notebooks only get missing ids filled in.
 */
export function upgradeToCurrentMinor(nb: Notebook): Notebook {
  if (nb.nbformat_minor >= CURRENT_NBFORMAT_MINOR) return ensureCellIds(nb);
  const taken = new Set<string>();
  const cells = nb.cells.map(
    (cell, index): Cell => ({ ...cell, id: deterministicCellId(idSeed(cell, index), taken) }),
  );
  return { ...nb, nbformat_minor: CURRENT_NBFORMAT_MINOR, cells };
}

function idSeed(cell: Cell, index: number): string {
  return `${index}\0${cell.cell_type}\0${cell.source}`;
}
