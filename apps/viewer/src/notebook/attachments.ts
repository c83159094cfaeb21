/** Resolves `attachment:name` URLs of markdown and raw cells to data: URLs. */
import type { Attachments } from './nbformat.ts';
import { joinText } from './nbformat.ts';

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'];

/** `attachment:plot.png` -> `data:image/png;base64,...`, or null when the cell has no such image. */
export function attachmentUrl(attachments: Attachments | undefined, url: string): string | null {
  const name = decodeURIComponent(url.slice('attachment:'.length));
  const bundle = attachments?.[name];
  if (!bundle) return null;
  for (const mime of IMAGE_TYPES) {
    const data = bundle[mime];
    if (data === undefined) continue;
    const text = joinText(data);
    if (mime === 'image/svg+xml')
      return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
    return `data:${mime};base64,${text.replace(/\s+/g, '')}`;
  }
  return null;
}
