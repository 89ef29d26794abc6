// /console, for the coalition's operator: partners, rate cards, tiers, settlement (preview,
// close, statements and their CSV), the ledger's checks, the audit trail, the people who
// sign in, campaigns, webhooks, and the coalition's activity. Staff accounts only read.
import { requireSession, gql, h, show, when, day, table, form, header, fail, activityChart, liabilityChart } from "/pages/hub.js";
import { campaignsSection, statementsSection, staffSection, webhooksSection } from "/pages/sections.js";

const CATEGORIES = ["GROCERY", "FUEL", "RETAIL", "TRAVEL", "DINING", "PHARMACY", "ENTERTAINMENT", "ONLINE", "SERVICES", "CHARITY", "OTHER"];
let partners = [];

async function loadActivity() {
  const data = await gql("{ pointsActivity(days: 30) { outstanding outstandingByDay { date points } days { date issued redeemed } } }");
  const a = data.pointsActivity;
  show("activity",
    h("div", { class: "cards" }, h("div", { class: "card" },
      h("div", { class: "figure" }, Number(a.outstanding).toLocaleString("en")), h("div", { class: "label" }, "points outstanding"))),
    activityChart("Points issued and redeemed per day, last 30 days", a.days),
    liabilityChart("Points outstanding, day by day", a.outstandingByDay, a.outstanding));
}

async function loadPartners() {
  const data = await gql("{ partners(first: 50) { nodes { id name slug category status earnRate } } }");
  partners = data.partners.nodes;
  const toggle = (p) => async () => {
    const status = p.status === "ACTIVE" ? "SUSPENDED" : "ACTIVE";
    await gql("mutation($id: ID!, $status: PartnerStatus) { updatePartner(id: $id, input: { status: $status }) { status } }", { id: p.id, status });
    await loadPartners();
  };
  show("partners", table("Partners", [
    { label: "Name", value: (p) => p.name },
    { label: "Slug", value: (p) => p.slug },
    { label: "Category", value: (p) => p.category.toLowerCase() },
    { label: "Earn rate", value: (p) => p.earnRate, num: true },
    { label: "Status", value: (p) => p.status.toLowerCase() },
    { label: "", value: (p) => h("button", { type: "button", onclick: toggle(p) }, p.status === "ACTIVE" ? "Suspend" : "Reactivate") },
  ], partners, "No partners yet."),
  h("h3", {}, "New partner"),
  form([
    { name: "name", label: "Name" },
    { name: "slug", label: "Slug (lower case, dashes)" },
    { name: "category", label: "Category", options: CATEGORIES.map((c) => [c, c.toLowerCase()]) },
    { name: "earnRate", label: "Points per unit of money", value: "1" },
  ], "Create", async (v) => {
    await gql("mutation($input: CreatePartnerInput!) { createPartner(input: $input) { id } }", { input: v });
    await loadPartners();
    showRates();
    return `${v.name} created.`;
  }));
}

function showRates() {
  show("rates",
    h("h3", {}, "Edit a partner"),
    form([
      { name: "id", label: "Partner", options: partners.map((p) => [p.id, p.name]) },
      { name: "name", label: "New name (blank: keep)", optional: true },
      { name: "earnRate", label: "New earn rate (blank: keep)", optional: true, inputmode: "decimal" },
    ], "Save", async (v) => {
      const input = {};
      if (v.name.trim()) input.name = v.name.trim();
      if (v.earnRate.trim()) input.earnRate = v.earnRate.trim();
      await gql("mutation($id: ID!, $input: UpdatePartnerInput!) { updatePartner(id: $id, input: $input) { id } }", { id: v.id, input });
      await loadPartners();
      return "Saved.";
    }),
    h("h3", {}, "Rate card"),
    form([
    { name: "partnerId", label: "Partner", options: partners.map((p) => [p.id, p.name]) },
    { name: "redemptionValue", label: "Owed to it per point redeemed", value: "0.01" },
    { name: "issuanceFee", label: "Its fee per point issued", value: "0.002" },
  ], "Set rates from now", async (v) => {
    const data = await gql("mutation($input: SetPartnerRatesInput!) { setPartnerRates(input: $input) { effectiveFrom } }", { input: v });
    return `Rates set from ${when(data.setPartnerRates.effectiveFrom)}.`;
  }));
}

async function loadTiers() {
  const data = await gql("{ tiers { name minPoints earnMultiplier } }");
  const text = data.tiers.map((t) => `${t.name}, ${t.minPoints}, ${t.earnMultiplier}`).join("\n");
  show("tiers", table("Tiers", [
    { label: "Tier", value: (t) => t.name },
    { label: "From points", value: (t) => t.minPoints, num: true },
    { label: "Earn multiplier", value: (t) => t.earnMultiplier, num: true },
  ], data.tiers, "No tiers."),
  form([{ name: "tiers", label: "Tiers: one per line, name, points from, multiplier", value: text.replaceAll("\n", "; ") }],
    "Replace tiers", async (v) => {
      const tiers = v.tiers.split(/[;\n]/).map((line) => line.split(",").map((x) => x.trim())).filter((f) => f[0])
        .map(([name, minPoints, earnMultiplier]) => ({ name, minPoints, earnMultiplier }));
      await gql("mutation($tiers: [TierInput!]!) { setTiers(tiers: $tiers) { name } }", { tiers });
      await loadTiers();
      return "Tiers replaced.";
    }));
}

const statementView = (s) => h("div", {},
  table("Who owes whom", [
    { label: "Issuer", value: (l) => l.issuer.name },
    { label: "Redeemed at", value: (l) => l.redeemer.name },
    { label: "Points", value: (l) => l.points, num: true },
    { label: "Amount", value: (l) => `${l.amount.amount} ${l.amount.currency}`, num: true },
  ], s.lines, "No redemptions between partners in this period."),
  table("Payments", [
    { label: "From", value: (t) => t.from.name },
    { label: "To", value: (t) => t.to.name },
    { label: "Amount", value: (t) => `${t.amount.amount} ${t.amount.currency}`, num: true },
  ], s.transfers, "Nothing to pay."));

const STATEMENT = "id periodStart periodEnd recordCount lines { issuer { name } redeemer { name } points amount { amount currency } } transfers { from { name } to { name } amount { amount currency } }";

function showSettlement() {
  const result = h("div", { id: "settlement-result" });
  // Seconds count: a cut-off is exact, and a period may end a moment ago.
  const local = (ms) => new Date(ms).toISOString().slice(0, 19);
  const now = local(Date.now() - 1000);
  const weekAgo = local(Date.now() - 7 * 86400000);
  const iso = (value) => new Date(value.length === 16 ? value + ":00Z" : value + "Z").toISOString();
  show("settlement",
    h("h3", {}, "Preview"),
    form([
      { name: "from", label: "From (UTC)", type: "datetime-local", value: weekAgo, step: 1 },
      { name: "to", label: "To (UTC)", type: "datetime-local", value: now, step: 1 },
    ], "Preview", async (v) => {
      const data = await gql(`query($from: DateTime!, $to: DateTime!) { settlementPreview(from: $from, to: $to) { ${STATEMENT} } }`,
        { from: iso(v.from), to: iso(v.to) });
      show(result, h("h3", {}, "Preview"), statementView(data.settlementPreview));
      return `${data.settlementPreview.recordCount} records.`;
    }, { inline: true }),
    h("h3", {}, "Close a period"),
    form([{ name: "cutoff", label: "Cut-off (UTC, in the past)", type: "datetime-local", value: now, step: 1 }], "Close the period", async (v) => {
      const data = await gql(`mutation($cutoff: DateTime!) { closeSettlementPeriod(cutoff: $cutoff) { ${STATEMENT} } }`, { cutoff: iso(v.cutoff) });
      const s = data.closeSettlementPeriod;
      show(result, h("h3", {}, `Closed: ${when(s.periodStart)} to ${when(s.periodEnd)}`),
        h("p", {}, h("a", { href: `/settlement/statements/${s.id}/csv`, download: `statement-${s.id}.csv`, id: "closed-csv" }, "Download its CSV")),
        statementView(s));
      await statementsSection("statements");
      return "Period closed.";
    }, { inline: true }),
    result);
}

async function loadChecks() {
  const run = async () => {
    const data = await gql("{ ledgerChecks { name violations } }");
    const clean = data.ledgerChecks.every((c) => c.violations === 0);
    show("check-result", h("p", {}, clean ? "Every invariant holds." : "Some invariants are violated."),
      table("Checks", [
        { label: "Check", value: (c) => c.name },
        { label: "Violations", value: (c) => c.violations, num: true },
      ], data.ledgerChecks));
  };
  show("checks", h("button", { type: "button", onclick: () => run().catch((e) => fail("check-result", e)) }, "Run the checks"),
    h("div", { id: "check-result" }));
}

async function loadAudit() {
  const data = await gql("{ auditLog(first: 20) { nodes { at actor action target partnerId } } }");
  show("audit", h("p", {}, h("a", { href: "/audit/csv", download: "audit.csv" }, "Download the whole trail (CSV)")),
    table("The 20 latest changes", [
      { label: "When", value: (a) => when(a.at) },
      { label: "Who", value: (a) => a.actor },
      { label: "What", value: (a) => a.action },
      { label: "Target", value: (a) => a.target },
    ], data.auditLog.nodes, "No changes yet."));
}

try {
  const session = await requireSession(["operator"]);
  header("Operator console", session, [["/console", "Console"], ["/boards", "Ambassadors"], ["/boards/public", "Public board"]]);
  if (session.readOnly) show("status", "You are signed in as staff: you can read; an admin makes changes.");
  await loadPartners();
  showRates();
  showSettlement();
  await Promise.all([loadActivity(), loadTiers(), statementsSection("statements"), loadChecks(), loadAudit(),
    staffSection("staff"), webhooksSection("webhooks"), campaignsSection("campaigns", session.readOnly)]);
} catch (error) {
  fail("status", error);
}
