/**
 * Keeps one cell's rendering failure (an output shape no renderer expected)
 * from taking the whole notebook down: that cell shows what went wrong, the
 * others render as usual. A new version of the cell gets a fresh try.
 */
import { Component, type ReactNode } from 'react';

interface Props {
  /** The cell's number as shown (null: a cell without one). */
  number: number | null;
  /** The cell being shown; when it changes the boundary tries again. */
  resetKey: unknown;
  children: ReactNode;
}

interface State {
  error: Error | null;
  resetKey: unknown;
}

export class CellErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey === state.resetKey ? null : { error: null, resetKey: props.resetKey };
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <article
        className="nes-cell nes-cell-broken"
        aria-label={this.props.number !== null ? `Cell ${this.props.number}` : 'Cell'}
      >
        <p className="nes-output-note">This cell could not be shown: {error.message}</p>
      </article>
    );
  }
}
