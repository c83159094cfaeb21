/**
 * Run durations as a logarithmic histogram (the idea of DDSketch, Masson et al., VLDB 2019):
 * bucket i holds durations in (gamma^(i-1), gamma^i] milliseconds with gamma = (1 + a) / (1 - a),
 * a = 1%, and stands for 2 gamma^i / (gamma + 1), which is within 1% of every duration in it.
 * The buckets are computed in SQL (nes_duration_bucket, migration 0009) where the rollup is kept;
 * this reads percentiles from them the way PostgreSQL's percentile_cont reads them from sorted
 * rows (interpolating between the two nearest ranks), so each percentile is within 1% of the
 * exact one. Written by hand: the reading side is a dozen lines over buckets the database keeps.
 */

export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);

/** The duration in seconds that bucket `index` stands for. */
function bucketSeconds(index: number): number {
  return index <= 0 ? 0.001 : (2 * GAMMA ** index) / (GAMMA + 1) / 1000;
}

export class DurationSketch {
  readonly #counts = new Map<number, number>();
  #total = 0;

  add(bucket: number, count = 1): void {
    if (count === 0) return;
    this.#counts.set(bucket, (this.#counts.get(bucket) ?? 0) + count);
    this.#total += count;
  }

  get count(): number {
    return this.#total;
  }

  /** Like percentile_cont(q): null without durations. */
  percentile(q: number): number | null {
    if (this.#total === 0) return null;
    const rank = q * (this.#total - 1);
    const below = Math.floor(rank);
    const lower = this.#atRank(below);
    if (rank === below) return lower;
    const upper = this.#atRank(below + 1);
    return lower + (rank - below) * (upper - lower);
  }

  /** The duration of the 0-based `rank`-th shortest run. */
  #atRank(rank: number): number {
    let seen = 0;
    let last = 0;
    for (const bucket of [...this.#counts.keys()].sort((a, b) => a - b)) {
      seen += this.#counts.get(bucket) ?? 0;
      last = bucket;
      if (seen > rank) break;
    }
    return bucketSeconds(last);
  }
}
