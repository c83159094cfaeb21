/**
 * jsdom has no layout: every element measures 0 x 0 and scrolling does
 * nothing. The virtualized notebook needs sizes, so this gives elements a
 * deterministic height: `data-test-height` if set, else 100px for a
 * virtual list slot (an element with `data-index`), else 0; an element's
 * scroll height is that of its tallest explicitly sized (`style.height`)
 * descendant. Elements sit at the top of their scroll container, so
 * `getBoundingClientRect().top` is minus the scroll offsets above them.
 * Elements keep a `scrollTop` and `scrollTo` moves it. A minimal ResizeObserver reports an element's size once when
 * it is observed (as browsers do); `scrollTo` records the position and
 * fires a scroll event when the position changes, as a browser would.
 */
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

export const SLOT_HEIGHT = 100;

function testHeight(element: HTMLElement): number {
  const explicit = element.getAttribute('data-test-height');
  if (explicit !== null) return Number(explicit);
  return element.hasAttribute('data-index') ? SLOT_HEIGHT : 0;
}

function defineGetter(name: string, get: (this: HTMLElement) => number) {
  Object.defineProperty(HTMLElement.prototype, name, { configurable: true, get });
}
defineGetter('offsetHeight', function () {
  return testHeight(this);
});
defineGetter('clientHeight', function () {
  return testHeight(this);
});
defineGetter('offsetWidth', function () {
  return testHeight(this) > 0 ? 800 : 0;
});
defineGetter('scrollHeight', function () {
  const sized = Array.from(this.querySelectorAll<HTMLElement>('[style*="height"]'), (element) =>
    Number.parseFloat(element.style.height),
  );
  return Math.max(testHeight(this), ...sized.filter(Number.isFinite));
});

const scrollTops = new WeakMap<Element, number>();
Object.defineProperty(HTMLElement.prototype, 'scrollTop', {
  configurable: true,
  get(this: HTMLElement) {
    return scrollTops.get(this) ?? 0;
  },
  set(this: HTMLElement, value: number) {
    scrollTops.set(this, Math.max(0, value));
  },
});
HTMLElement.prototype.scrollTo = function (
  this: HTMLElement,
  xOrOptions?: number | ScrollToOptions,
  y?: number,
) {
  const top =
    typeof xOrOptions === 'object' ? (xOrOptions.top ?? this.scrollTop) : (y ?? this.scrollTop);
  if (Math.max(0, top) === this.scrollTop) return;
  this.scrollTop = top;
  this.dispatchEvent(new Event('scroll'));
} as typeof HTMLElement.prototype.scrollTo;
HTMLElement.prototype.getBoundingClientRect = function (this: HTMLElement) {
  let top = -window.scrollY;
  for (let parent = this.parentElement; parent; parent = parent.parentElement)
    top -= parent.scrollTop;
  return new DOMRect(0, top, this.offsetWidth, testHeight(this));
};

class TestResizeObserver implements ResizeObserver {
  readonly #callback: ResizeObserverCallback;
  readonly #observed = new Set<Element>();
  constructor(callback: ResizeObserverCallback) {
    this.#callback = callback;
  }
  observe(target: Element): void {
    this.#observed.add(target);
    queueMicrotask(() => {
      if (!this.#observed.has(target) || !(target instanceof HTMLElement)) return;
      const blockSize = testHeight(target);
      const size = [{ blockSize, inlineSize: target.offsetWidth }];
      const entry = {
        target,
        contentRect: new DOMRect(0, 0, target.offsetWidth, blockSize),
        borderBoxSize: size,
        contentBoxSize: size,
        devicePixelContentBoxSize: size,
      } as unknown as ResizeObserverEntry;
      this.#callback([entry], this);
    });
  }
  unobserve(target: Element): void {
    this.#observed.delete(target);
  }
  disconnect(): void {
    this.#observed.clear();
  }
}
for (const scope of new Set<object>([globalThis, document.defaultView ?? globalThis])) {
  Object.assign(scope, { ResizeObserver: TestResizeObserver });
}

function setScrollY(top: number) {
  Object.defineProperty(window, 'scrollY', { configurable: true, value: top });
  Object.defineProperty(window, 'pageYOffset', { configurable: true, value: top });
}

function scrollWindowTo(xOrOptions?: number | ScrollToOptions, y?: number): void {
  const requested =
    typeof xOrOptions === 'object' ? (xOrOptions.top ?? window.scrollY) : (y ?? window.scrollY);
  const top = Math.max(0, requested);
  if (top === window.scrollY) return;
  setScrollY(top);
  window.dispatchEvent(new Event('scroll'));
}
window.scrollTo = scrollWindowTo as typeof window.scrollTo;
setScrollY(0);

afterEach(() => {
  cleanup();
  setScrollY(0);
});
