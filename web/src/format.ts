/** How numbers read on the page. */
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en');

export const count = (n: number): string => (n < 10_000 ? whole.format(n) : compact.format(n));

export function usd(n: number): string {
  if (n === 0) return '$0.00';
  if (Math.abs(n) < 0.01) return `$${n.toFixed(4)}`;
  return new Intl.NumberFormat('en', { style: 'currency', currency: 'USD' }).format(n);
}

export function ms(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 1000) return `${Math.round(n)} ms`;
  return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
}

export const percent = (part: number, total: number): string =>
  total === 0 ? '—' : `${((part / total) * 100).toFixed(part === total || part === 0 ? 0 : 1)}%`;

export function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString('en-GB', { hour12: false });
}
