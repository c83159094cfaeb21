export type * from './execution-types.ts';
