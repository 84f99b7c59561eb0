// @ts-check
/** Times as operators read them: "3 min", "14:05", "Today" / "Yesterday" / a date. */

/**
 * A short age: "now", "5 min", "2 h", "3 d".
 * @param {string} iso
 * @param {number} [now] ms since the epoch
 */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return "now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/**
 * The clock time of an instant, in the operator's locale ("14:05").
 * @param {string} iso
 */
export function clock(iso) {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/**
 * The local calendar day of an instant, as a key ("2026-12-04").
 * @param {string} iso
 */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/**
 * A day separator's label: "Today", "Yesterday" or the date.
 * @param {string} iso
 * @param {number} [now] ms since the epoch
 */
export function dayLabel(iso, now = Date.now()) {
  const key = dayKey(iso);
  if (key === dayKey(new Date(now).toISOString())) return "Today";
  if (key === dayKey(new Date(now - 86400000).toISOString())) return "Yesterday";
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}
