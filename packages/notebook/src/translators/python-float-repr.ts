/**
 * Python's `repr(float)` for a finite JavaScript number.
 *
 * Both languages pick the shortest digit string that round-trips; they differ only in layout.
 * Python switches to exponent form when the decimal exponent is below -4 or at least 16 (JS uses
 * -7 and 21), always writes a two-digit exponent with a sign (`1e-07`, `1e+16`), and keeps `.0`
 * on integral values (`1.0`, `-0.0`).
 */
export function pythonFloatRepr(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';

  const sign = value < 0 ? '-' : '';
  // toExponential() without an argument yields the shortest round-trip digits, e.g. "1.25e-7".
  const [mantissa = '', exponentText = '0'] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);

  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const exponentSign = exponent < 0 ? '-' : '+';
    const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${digits[0]}${fraction}e${exponentSign}${exponentDigits}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integerPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fractionPart = digits.slice(exponent + 1) || '0';
  return `${sign}${integerPart}.${fractionPart}`;
}

/** Python's `str(float)` for any number: `repr`, plus `nan`, `inf` and `-inf`. */
export function pythonFloatStr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  return pythonFloatRepr(value);
}
