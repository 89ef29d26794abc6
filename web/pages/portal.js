// /portal, for a partner's staff: members, entries, statements (CSV), charts; an admin also
// manages the partner's API credentials, staff and webhooks. Staff sessions only read.
import { requireSession, gql, h, show, points, when, day, table, form, header, fail, activityChart, liabilityChart } from "/pages/hub.js";
import { campaignsSection, entriesSection, statementsSection, secretNotice, staffSection, webhooksSection } from "/pages/sections.js";

async function loadActivity() {
  const data = await gql("{ pointsActivity(days: 30) { outstanding outstandingByDay { date points } days { date issued redeemed } } }");
  const a = data.pointsActivity;
  show("activity",
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("div", { class: "figure", id: "outstanding" }, Number(a.outstanding).toLocaleString("en")),
        h("div", { class: "label" }, "points you issued that members still hold (your liability)"))),
    activityChart("Points issued and redeemed per day, last 30 days", a.days),
    liabilityChart("Points you issued that members hold (your liability), day by day", a.outstandingByDay, a.outstanding));
}

function lookupSection() {
  const result = h("div", { id: "member" });
  show("lookup", form([
    { name: "by", label: "By", options: [["memberNumber", "Card number"], ["partnerCustomerId", "Your customer id"]] },
    { name: "value", label: "Number or id" },
  ], "Look up", async (v) => {
    const data = await gql(`query($ref: MemberRefInput!) { member(ref: $ref) { memberNumber partnerCustomerId
        balance { available pending held debt } tier { tier { name } }
        transactions(first: 10) { nodes { kind points createdAt reference partner { name } } } } }`,
      { ref: { [v.by]: v.value.trim() } });
    const m = data.member;
    show(result,
      h("p", {}, h("strong", {}, `Card ${m.memberNumber || "–"}`), m.partnerCustomerId ? ` · your customer ${m.partnerCustomerId}` : "",
        m.tier ? ` · ${m.tier.tier.name}` : ""),
      h("p", {}, `${points(m.balance.available)} available, ${points(m.balance.pending)} pending, ${points(m.balance.held)} held`,
        Number(m.balance.debt) > 0 ? `, ${points(m.balance.debt)} debt` : ""),
      table("The member's entries with you", [
        { label: "When", value: (e) => when(e.createdAt) },
        { label: "Kind", value: (e) => e.kind },
        { label: "Points", value: (e) => e.points, num: true },
        { label: "Reference", value: (e) => e.reference || "" },
      ], m.transactions.nodes));
    return "Found.";
  }, { inline: true }), result);
}

async function loadCredentials(partner) {
  const data = await gql("query($id: ID!) { partner(id: $id) { credentials { clientId scopes createdAt revokedAt } } }", { id: partner.id });
  const revoke = (clientId) => async () => {
    await gql("mutation($c: String!) { revokePartnerCredentials(clientId: $c) }", { c: clientId });
    await loadCredentials(partner);
  };
  const notice = h("div", { id: "new-secret" });
  show("credentials",
    table("API credentials", [
      { label: "Client id", value: (c) => c.clientId },
      { label: "Scopes", value: (c) => c.scopes.join(" ") },
      { label: "Created", value: (c) => day(c.createdAt) },
      { label: "", value: (c) => (c.revokedAt ? "revoked " + day(c.revokedAt) : h("button", { type: "button", onclick: revoke(c.clientId) }, "Revoke")) },
    ], data.partner.credentials, "No credentials yet."),
    h("h3", {}, "New credentials"),
    form([{ name: "scopes", label: "Scopes (space separated)", value: "points:issue points:redeem points:reverse members:read" }],
      "Create", async (v) => {
        const made = await gql("mutation($input: CreatePartnerCredentialsInput!) { createPartnerCredentials(input: $input) { clientId clientSecret } }",
          { input: { partnerId: partner.id, scopes: v.scopes.split(/\s+/).filter(Boolean) } });
        const c = made.createPartnerCredentials;
        await loadCredentials(partner);
        show("new-secret", secretNotice(`Client ${c.clientId}: its secret`, c.clientSecret));
        return "Created.";
      }),
    notice);
}

try {
  const session = await requireSession(["partner"]);
  header("Partner portal", session, [["/portal", "Portal"], ["/boards", "Ambassadors"]]);
  const data = await gql("{ viewer { partner { id name slug } } }");
  const partner = data.viewer.partner;
  document.getElementById("title").textContent = partner.name;
  document.title = `${partner.name} · Partner portal`;
  lookupSection();
  await Promise.all([loadActivity(), entriesSection("entries"), statementsSection("statements"), campaignsSection("campaigns", session.readOnly)]);
  if (!session.readOnly) {
    document.getElementById("admin").hidden = false;
    await Promise.all([loadCredentials(partner), staffSection("staff", partner.id), webhooksSection("webhooks", partner.id)]);
  } else {
    show("status", "You are signed in as staff: you can read; an admin of your account makes changes.");
  }
} catch (error) {
  fail("status", error);
}
