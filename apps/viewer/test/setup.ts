/**
 * jsdom has no layout: every element measures 0 x 0 and scrolling does
 * nothing. The virtualized notebook needs sizes, so this gives elements a
 * deterministic height: `data-test-height` if set, else 100px for a
 * virtual list slot (an element with `data-index`), else 0. `scrollTo`
 * records the position and fires a scroll event, as a browser would.
 */
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

export const SLOT_HEIGHT = 100;

function testHeight(element: HTMLElement): number {
  const explicit = element.getAttribute('data-test-height');
  if (explicit !== null) return Number(explicit);
  return element.hasAttribute('data-index') ? SLOT_HEIGHT : 0;
}

Object.defineProperty(HTMLElement.prototype, 'offsetHeight', {
  configurable: true,
  get(this: HTMLElement) {
    return testHeight(this);
  },
});
Object.defineProperty(HTMLElement.prototype, 'offsetWidth', {
  configurable: true,
  get(this: HTMLElement) {
    return testHeight(this) > 0 ? 800 : 0;
  },
});

function scrollWindowTo(this: Window, xOrOptions?: number | ScrollToOptions, y?: number): void {
  const top =
    typeof xOrOptions === 'object' ? (xOrOptions.top ?? window.scrollY) : (y ?? window.scrollY);
  Object.defineProperty(window, 'scrollY', { configurable: true, value: Math.max(0, top) });
  Object.defineProperty(window, 'pageYOffset', { configurable: true, value: Math.max(0, top) });
  window.dispatchEvent(new Event('scroll'));
}
window.scrollTo = scrollWindowTo as typeof window.scrollTo;

afterEach(() => {
  cleanup();
  Object.defineProperty(window, 'scrollY', { configurable: true, value: 0 });
  Object.defineProperty(window, 'pageYOffset', { configurable: true, value: 0 });
});
