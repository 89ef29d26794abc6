// /app, the member's wallet. It opens from the link a partner's app makes with
// issueMemberToken (/app#token=…): the token is taken out of the address at once, traded
// for a session cookie, and forgotten. The balance follows `balanceChanged` live.
import { HubError, rememberCsrf, gql, h, show, points, when, day, table, form, newKey, header, fail } from "/pages/hub.js";

const BALANCE = "available pending held debt lifetimeEarned";

async function openSession() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token) {
    // Before anything else: the token leaves the address bar and the history entry.
    history.replaceState(null, "", "/app");
    const response = await fetch("/app/session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    if (!response.ok) throw new HubError("This wallet link has expired: open it again from your app.", "UNAUTHENTICATED");
  }
  const response = await fetch("/session", { cache: "no-store" });
  if (response.status === 401) throw new HubError("Open your wallet from your partner's app.", "UNAUTHENTICATED");
  const session = await response.json();
  if (session.kind !== "member") {
    location.replace(session.home);
    throw new HubError("This page is the members' wallet.", "FORBIDDEN");
  }
  rememberCsrf(session.csrfToken);
  return session;
}

function showBalance(balance) {
  const card = (label, value, id) =>
    h("div", { class: "card" }, h("div", { class: "figure", id }, Number(value).toLocaleString("en")), h("div", { class: "label" }, label));
  show("balance",
    card("available points", balance.available, "available"),
    card("pending (spendable after the return window)", balance.pending, "pending"),
    card("held at a checkout", balance.held, "held"),
    Number(balance.debt) > 0 ? card("points debt (repaid by your next earns)", balance.debt, "debt") : null);
}

function showTier(tier) {
  if (!tier) return show("tier", h("p", { class: "muted" }, "The coalition has no tiers."));
  const next = tier.nextTier;
  const progress = next
    ? h("div", {},
        h("label", {}, `${points(tier.pointsToNextTier)} to ${next.name}`,
          h("progress", { max: Number(next.minPoints), value: Number(tier.qualifyingPoints) })))
    : h("p", {}, "You are in the top tier.");
  show("tier", h("p", {}, h("strong", {}, tier.tier.name), ` · ${points(tier.qualifyingPoints)} qualifying`), progress);
}

function showExpiring(lots) {
  show("expiring", table("Points expiring in the next 60 days", [
    { label: "Date", value: (l) => l.date },
    { label: "Points", value: (l) => Number(l.points).toLocaleString("en"), num: true },
  ], lots, "Nothing expires in the next 60 days."));
}

function showOffers(offers, reload) {
  const activate = (offer) => async () => {
    await gql("mutation($id: ID!) { activateOffer(campaignId: $id) { activated } }", { id: offer.campaign.id });
    await reload();
  };
  show("offers", table("Offers", [
    { label: "Offer", value: (o) => o.campaign.name },
    { label: "Ends", value: (o) => day(o.campaign.endsAt) },
    { label: "", value: (o) => (o.activated ? "Active" : h("button", { type: "button", onclick: activate(o) }, "Activate")) },
  ], offers, "No offers right now."));
}

const KIND = { ISSUE: "Earned", REDEEM: "Spent", BONUS: "Bonus", EXPIRY: "Expired", HOLD: "Held", CAPTURE: "Spent (held)",
  VOID: "Hold released", HOLD_EXPIRY: "Hold expired", REVERSE_ISSUE: "Earn refunded", REVERSE_REDEEM: "Spend refunded",
  TRANSFER_OUT: "Sent to family", TRANSFER_IN: "From family" };

async function loadHistory(after = null, rows = []) {
  const data = await gql(`query($after: String) { me { transactions(first: 10, after: $after) {
      pageInfo { hasNextPage endCursor } nodes { id kind points createdAt reference partner { name } } } } }`, { after });
  const page = data.me.transactions;
  rows = rows.concat(page.nodes);
  const more = page.pageInfo.hasNextPage
    ? h("button", { type: "button", id: "older", onclick: () => loadHistory(page.pageInfo.endCursor, rows).catch((e) => fail("history", e)) }, "Older")
    : null;
  show("history", table("Your history", [
    { label: "When", value: (e) => when(e.createdAt) },
    { label: "What", value: (e) => KIND[e.kind] || e.kind },
    { label: "Where", value: (e) => (e.partner ? e.partner.name : "") },
    { label: "Points", value: (e) => Number(e.points).toLocaleString("en"), num: true },
  ], rows, "No points yet."), more);
}

async function loadTier() {
  const data = await gql("{ me { tier { tier { name } qualifyingPoints nextTier { name minPoints } pointsToNextTier } } }");
  showTier(data.me.tier);
}

async function loadWallet() {
  const data = await gql(`{ me { memberNumber balance { ${BALANCE} } expiringPoints(withinDays: 60) { date points }
      tier { tier { name } qualifyingPoints nextTier { name minPoints } pointsToNextTier }
      offers { activated campaign { id name endsAt } }
      familyMembers { memberNumber status since } }
    partners(first: 50) { nodes { id name category } } }`);
  const me = data.me;
  document.getElementById("status").textContent = me.memberNumber ? `Card ${me.memberNumber}` : "";
  showBalance(me.balance);
  showTier(me.tier);
  showExpiring(me.expiringPoints);
  showOffers(me.offers, loadWallet);
  showDonate(data.partners.nodes.filter((p) => p.category === "CHARITY"));
  showFamily(me.familyMembers);
  await loadHistory();
}

function showDonate(charities) {
  if (!charities.length) return show("donate", h("p", { class: "muted" }, "No charity takes donations right now."));
  show("donate", form([
    { name: "partnerId", label: "Charity", options: charities.map((c) => [c.id, c.name]) },
    { name: "points", label: "Points", type: "number", min: 1, inputmode: "numeric" },
  ], "Donate", async (v) => {
    const data = await gql("mutation($input: DonatePointsInput!) { donatePoints(input: $input) { balance { available } } }",
      { input: { partnerId: v.partnerId, points: Number(v.points), idempotencyKey: newKey("donate") } });
    return `Thank you: ${points(v.points)} donated; ${points(data.donatePoints.balance.available)} left.`;
  }));
}

function showFamily(links) {
  show("family",
    table("Family links", [
      { label: "Card", value: (l) => l.memberNumber },
      { label: "Status", value: (l) => l.status },
      { label: "Since", value: (l) => day(l.since) },
    ], links, "No family links yet."),
    h("h3", {}, "Link a family member"),
    form([{ name: "memberNumber", label: "Their card number", inputmode: "numeric" }], "Ask to link", async (v) => {
      const data = await gql("mutation($n: String!) { linkFamilyMember(memberNumber: $n) { status } }", { n: v.memberNumber });
      return `Link ${data.linkFamilyMember.status.toLowerCase()}.`;
    }),
    h("h3", {}, "Send points to family"),
    form([
      { name: "toMemberNumber", label: "Their card number", inputmode: "numeric" },
      { name: "points", label: "Points", type: "number", min: 1, inputmode: "numeric" },
    ], "Send", async (v) => {
      await gql("mutation($input: TransferPointsInput!) { transferPoints(input: $input) { __typename } }",
        { input: { toMemberNumber: v.toMemberNumber, points: Number(v.points), idempotencyKey: newKey("family") } });
      return `${points(v.points)} sent.`;
    }));
}

/** balanceChanged over graphql-transport-ws, reconnecting after a drop. */
function followBalance(csrfToken) {
  const live = document.getElementById("live");
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`, "graphql-transport-ws");
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: { csrfToken } }));
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "connection_ack") {
      live.textContent = "· live";
      socket.send(JSON.stringify({ id: "balance", type: "subscribe",
        payload: { query: `subscription { balanceChanged { entryId balance { ${BALANCE} } } }` } }));
    } else if (event.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (event.type === "next" && event.payload.data) {
      showBalance(event.payload.data.balanceChanged.balance);
      loadHistory().catch((e) => fail("history", e));
      loadTier().catch((e) => fail("tier", e));
    }
  };
  socket.onclose = () => {
    live.textContent = "· reconnecting";
    setTimeout(() => followBalance(csrfToken), 3000);
  };
}

try {
  const session = await openSession();
  header("Coalition hub", session, [["/app", "Wallet"], ["/boards", "Ambassadors"]]);
  document.getElementById("wallet").hidden = false;
  await loadWallet();
  followBalance(session.csrfToken);
} catch (error) {
  fail("status", error);
}
