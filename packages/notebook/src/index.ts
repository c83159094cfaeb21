export type * from './nbformat.ts';
export * from './translators/index.ts';
