// Sections the portal and the console share: entries, statements with their CSV, staff,
// webhooks, campaigns, and the notice that shows a secret once.
import { gql, h, show, when, day, table, form } from "/pages/hub.js";

/** A secret shown this once, with a button that copies it. */
export function secretNotice(label, secret) {
  return h("div", { class: "notice", role: "alert" },
    h("p", {}, label, " (shown this once; keep it somewhere safe):"),
    h("p", { class: "secret" }, secret),
    h("button", { type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(secret) }, "Copy"));
}

export async function entriesSection(id, after = null, rows = []) {
  const data = await gql(`query($after: String) { ledgerEntries(first: 20, after: $after) {
      pageInfo { hasNextPage endCursor } nodes { id kind points createdAt reference member { memberNumber } partner { name } } } }`, { after });
  const page = data.ledgerEntries;
  rows = rows.concat(page.nodes);
  show(id, table("Entries", [
    { label: "When", value: (e) => when(e.createdAt) },
    { label: "Kind", value: (e) => e.kind },
    { label: "Partner", value: (e) => (e.partner ? e.partner.name : "") },
    { label: "Card", value: (e) => e.member.memberNumber || "" },
    { label: "Points", value: (e) => e.points, num: true },
    { label: "Reference", value: (e) => e.reference || "" },
  ], rows, "No entries yet."),
  page.pageInfo.hasNextPage ? h("button", { type: "button", onclick: () => entriesSection(id, page.pageInfo.endCursor, rows) }, "Older") : null);
}

export async function statementsSection(id) {
  const data = await gql("{ settlementStatements(first: 50) { nodes { id periodStart periodEnd closedAt recordCount } } }");
  show(id, table("Closed settlement periods", [
    { label: "From", value: (s) => when(s.periodStart) },
    { label: "To", value: (s) => when(s.periodEnd) },
    { label: "Closed", value: (s) => when(s.closedAt) },
    { label: "Records", value: (s) => s.recordCount, num: true },
    { label: "", value: (s) => h("a", { href: `/settlement/statements/${s.id}/csv`, download: `statement-${s.id}.csv` }, "CSV") },
  ], data.settlementStatements.nodes, "No period closed yet."));
}

export async function staffSection(id, partnerId = null) {
  const data = await gql("query($p: ID) { portalUsers(partnerId: $p) { id email role partnerId createdAt disabledAt } }", { p: partnerId });
  const act = (mutation, user) => async () => {
    const result = await gql(mutation, { id: user.id });
    await staffSection(id, partnerId);
    const reset = result.resetPortalUserPassword;
    if (reset) document.getElementById(id).append(secretNotice(`New password of ${reset.user.email}`, reset.password));
  };
  const disable = "mutation($id: ID!) { disablePortalUser(id: $id) { id } }";
  const reset = "mutation($id: ID!) { resetPortalUserPassword(id: $id) { user { email } password } }";
  show(id, table("Staff", [
    { label: "Email", value: (u) => u.email },
    { label: "Role", value: (u) => u.role.toLowerCase() },
    { label: "Since", value: (u) => day(u.createdAt) },
    { label: "", value: (u) => (u.disabledAt ? "disabled" : h("span", {},
        h("button", { type: "button", onclick: act(reset, u) }, "New password"), " ",
        h("button", { type: "button", onclick: act(disable, u) }, "Disable"))) },
  ], data.portalUsers, "No staff yet."),
  h("h3", {}, "Add someone"),
  form([
    { name: "email", label: "Email", type: "email" },
    { name: "role", label: "Role", options: [["STAFF", "Staff (reads)"], ["ADMIN", "Admin (changes)"]] },
  ], "Add", async (v) => {
    const made = await gql("mutation($input: CreatePortalUserInput!) { createPortalUser(input: $input) { user { email } password } }",
      { input: { email: v.email, role: v.role, partnerId } });
    const u = made.createPortalUser;
    await staffSection(id, partnerId);
    document.getElementById(id).append(secretNotice(`First password of ${u.user.email}`, u.password));
    return "Added.";
  }));
}

export async function webhooksSection(id, partnerId = null) {
  const data = await gql("query($p: ID) { webhookSubscriptions(partnerId: $p) { id url eventTypes status disabledReason } }", { p: partnerId });
  const remove = (s) => async () => {
    await gql("mutation($id: ID!) { deleteWebhookSubscription(id: $id) }", { id: s.id });
    await webhooksSection(id, partnerId);
  };
  show(id, table("Webhook subscriptions", [
    { label: "URL", value: (s) => s.url },
    { label: "Events", value: (s) => s.eventTypes.join(", ") },
    { label: "Status", value: (s) => s.status + (s.disabledReason ? `: ${s.disabledReason}` : "") },
    { label: "", value: (s) => h("button", { type: "button", onclick: remove(s) }, "Delete") },
  ], data.webhookSubscriptions, "No webhooks."),
  h("h3", {}, "Subscribe"),
  form([
    { name: "url", label: "HTTPS URL", type: "url" },
    { name: "eventTypes", label: "Event types (comma separated)", value: "points.issued, points.redeemed" },
  ], "Subscribe", async (v) => {
    const made = await gql("mutation($input: CreateWebhookSubscriptionInput!) { createWebhookSubscription(input: $input) { secret } }",
      { input: { partnerId, url: v.url, eventTypes: v.eventTypes.split(",").map((t) => t.trim()).filter(Boolean) } });
    await webhooksSection(id, partnerId);
    document.getElementById(id).append(secretNotice("Signing secret", made.createWebhookSubscription.secret));
    return "Subscribed.";
  }));
}

/** Campaigns: the list, ending one, and a new one with the common rewards (the API takes
 * more: schedules, audiences by tier, SKUs, stacking groups). */
export async function campaignsSection(id, readOnly = false) {
  const data = await gql("{ campaigns(first: 40) { nodes { id name startsAt endsAt live endedAt awarded budget multiplier points } } }");
  const end = (c) => async () => {
    await gql("mutation($id: ID!) { endCampaign(id: $id) { endedAt } }", { id: c.id });
    await campaignsSection(id, readOnly);
  };
  const rows = data.campaigns.nodes;
  const list = table("Campaigns", [
    { label: "Name", value: (c) => c.name },
    { label: "Reward", value: (c) => (c.multiplier ? `×${c.multiplier}` : `+${c.points} pts`) },
    { label: "From", value: (c) => day(c.startsAt) },
    { label: "To", value: (c) => day(c.endedAt || c.endsAt) },
    { label: "Awarded of budget", value: (c) => (c.budget ? `${c.awarded ?? 0} of ${c.budget}` : "no budget"), num: true },
    { label: "", value: (c) => (c.live && !readOnly ? h("button", { type: "button", onclick: end(c) }, "End") : c.live ? "live" : "") },
  ], rows, "No campaigns.");
  if (readOnly) return show(id, list);
  const today = new Date().toISOString().slice(0, 10);
  const inAMonth = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
  show(id, list, h("h3", {}, "New campaign"), form([
    { name: "name", label: "Name" },
    { name: "startsAt", label: "From (UTC)", type: "date", value: today },
    { name: "endsAt", label: "To (UTC, exclusive)", type: "date", value: inAMonth },
    { name: "kind", label: "Reward", options: [["multiplier", "Multiply the points"], ["points", "Fixed bonus points"]] },
    { name: "amount", label: "Multiplier or points", value: "2", inputmode: "decimal" },
    { name: "minPurchase", label: "Minimum purchase (blank: none)", optional: true, inputmode: "decimal" },
    { name: "budget", label: "Budget in points (blank: none)", optional: true, inputmode: "numeric" },
  ], "Start", async (v) => {
    const input = { name: v.name, startsAt: v.startsAt + "T00:00:00Z", endsAt: v.endsAt + "T00:00:00Z", audience: "EVERYONE" };
    if (v.kind === "multiplier") input.multiplier = v.amount.trim();
    else input.points = Number(v.amount);
    if (v.minPurchase.trim()) input.minPurchase = v.minPurchase.trim();
    if (v.budget.trim()) input.budget = Number(v.budget);
    await gql("mutation($input: CampaignInput!) { createCampaign(input: $input) { id } }", { input });
    await campaignsSection(id, readOnly);
    return "Campaign created.";
  }));
}
