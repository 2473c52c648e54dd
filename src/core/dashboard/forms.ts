/**
 * @module dashboard/forms
 * The one way dashboard routes read what a request submits: form bodies (urlencoded, as htmx
 * sends them, or multipart) through {@link readForm}, and numeric ids in paths through
 * {@link idParam}.
 */
import { HiveError } from '../../shared/errors.ts';

/** A submitted form. Fields may repeat (checkboxes); uploaded files are ignored. */
export class FormFields {
  constructor(private readonly data: FormData | null) {}

  /** The field's value (the first, when it repeats), or undefined when the form has none. */
  text(name: string): string | undefined {
    const v = this.data?.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  /** Every non-empty value of a field, in the order sent: absent → [], repeated → all. */
  list(name: string): string[] {
    return (this.data?.getAll(name) ?? []).filter((v): v is string => typeof v === 'string' && v !== '');
  }
}

/**
 * Reads a request's urlencoded or multipart body. A body that is neither, or does not parse, reads
 * as an empty form, so the route reports the field it misses.
 */
export async function readForm(request: Request): Promise<FormFields> {
  try {
    return new FormFields(await request.formData());
  } catch {
    return new FormFields(null);
  }
}

/**
 * A positive integer id from a route parameter.
 * @throws HiveError `bad_request` naming the parameter.
 */
export function idParam(raw: string | undefined, what: string): number {
  const n = Number(raw);
  if (!raw || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) throw new HiveError('bad_request', `"${raw ?? ''}" is not a ${what} id`);
  return n;
}
