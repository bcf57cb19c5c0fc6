// Windowing math for the virtualized queue: fixed row height, render only what is visible plus
// an overscan on each side, fetch pages by offset.

export interface WindowInput {
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  total: number;
  overscan: number;
}

export interface RowWindow {
  /** First row to render (inclusive). */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Where the first rendered row sits, in pixels from the top of the list. */
  offsetTop: number;
  /** Height of the whole list, for the scrollbar. */
  totalHeight: number;
}

export function computeWindow(input: WindowInput): RowWindow {
  const rowHeight = Math.max(1, input.rowHeight);
  const total = Math.max(0, Math.floor(input.total));
  const totalHeight = total * rowHeight;
  if (total === 0) return { start: 0, end: 0, offsetTop: 0, totalHeight: 0 };
  const maxScroll = Math.max(0, totalHeight - input.viewportHeight);
  const scrollTop = Math.min(Math.max(0, input.scrollTop), maxScroll);
  const first = Math.floor(scrollTop / rowHeight);
  const visible = Math.ceil(Math.max(0, input.viewportHeight) / rowHeight) + 1;
  const overscan = Math.max(0, Math.floor(input.overscan));
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + visible + overscan);
  return { start, end, offsetTop: start * rowHeight, totalHeight };
}

/** Offsets of the pages of `pageSize` rows that cover rows `[start, end)`. */
export function pageOffsets(start: number, end: number, pageSize: number): number[] {
  if (end <= start || pageSize <= 0) return [];
  const out: number[] = [];
  const first = Math.floor(Math.max(0, start) / pageSize) * pageSize;
  for (let off = first; off < end; off += pageSize) out.push(off);
  return out;
}

/**
 * The scroll position that brings row `index` fully into view while moving as little as possible
 * (unchanged when it is already visible).
 */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return scrollTop;
}

/** Keeps a selection index inside `[0, total)` (0 when the list is empty). */
export function clampIndex(index: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(Math.max(0, index), total - 1);
}
