export type * from './nbformat.ts';
