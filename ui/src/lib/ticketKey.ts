// Recognizes what an agent types when they mean a ticket key: local `CB-12`, Jira `SUP-42`,
// ServiceNow `INC0000045`, Zendesk `#1234`.

const DASHED = /^[A-Za-z][A-Za-z0-9]*-\d+$/;
const SERVICENOW = /^[A-Za-z]{2,6}\d{4,}$/;
const ZENDESK = /^#\d+$/;

/** The key in canonical spelling, or `null` when the text does not look like a ticket key. */
export function parseTicketKey(text: string): string | null {
  const t = text.trim();
  if (DASHED.test(t) || SERVICENOW.test(t)) return t.toUpperCase();
  if (ZENDESK.test(t)) return t;
  return null;
}

export function sameKey(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}
