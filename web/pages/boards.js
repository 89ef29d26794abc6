// /boards: the coalition's and partners' ambassador boards for a week, a month or all time
// (past periods too), and the signed-in member's standing with its neighbours.
import { requireSession, gql, h, show, table, header, fail } from "/pages/hub.js";

const form = document.getElementById("choice");
const PUBLIC_PERIOD = { WEEK: "week", MONTH: "month", ALL_TIME: "all-time" };

function choice() {
  const v = Object.fromEntries(new FormData(form).entries());
  return {
    scope: v.scope ? { partnerId: v.scope } : null,
    period: v.period,
    at: v.at ? v.at + "T12:00:00Z" : null,
    slug: form.elements.scope.selectedOptions[0].dataset.slug,
  };
}

const entries = (caption, rows, mine) => table(caption, [
  { label: "Rank", value: (e) => e.rank, num: true },
  { label: "Ambassador", value: (e) => (e.handle === mine ? h("strong", {}, e.handle + " (you)") : e.handle) },
  { label: "Score", value: (e) => Number(e.score).toLocaleString("en"), num: true },
], rows, "No ambassador has scored in this period.");

async function refresh() {
  const c = choice();
  const vars = { scope: c.scope, period: c.period, at: c.at };
  const board = await gql(`query($scope: LeaderboardScopeInput, $period: LeaderboardPeriod!, $at: DateTime) {
      leaderboard(scope: $scope, period: $period, at: $at, first: 10) { totalRanked board { startsAt endsAt } entries { rank handle score } } }`, vars);
  let mine = null;
  try {
    const data = await gql(`query($scope: LeaderboardScopeInput, $period: LeaderboardPeriod!, $at: DateTime) {
        ambassadorStanding(scope: $scope, period: $period, at: $at, neighbors: 2) {
          handle rank score totalRanked pointsToNextRank above { rank handle score } below { rank handle score } } }`, vars);
    const s = data.ambassadorStanding;
    mine = s.handle;
    show("standing",
      h("p", {}, s.rank ? `${s.handle}: rank ${s.rank} of ${s.totalRanked}, score ${s.score}` : `${s.handle}: no score in this period yet`,
        s.pointsToNextRank ? ` · ${s.pointsToNextRank} more to move up` : ""),
      entries("You and your neighbours", [...s.above, { rank: s.rank ?? "–", handle: s.handle, score: s.score }, ...s.below], s.handle));
  } catch (error) {
    show("standing", h("p", { class: "muted" }, error.code === "NOT_FOUND" ? "You are not an ambassador on this board." : error.message));
  }
  const b = board.leaderboard;
  show("board", entries(`Top 10 of ${b.totalRanked}`, b.entries, mine));
  const range = b.board.startsAt ? ` (${b.board.startsAt.slice(0, 10)} to ${b.board.endsAt.slice(0, 10)})` : "";
  document.getElementById("board-title").textContent = `Top 10${range}`;
  const query = new URLSearchParams({ period: PUBLIC_PERIOD[c.period] });
  if (c.slug) query.set("partner", c.slug);
  document.getElementById("public-link").href = "/boards/public?" + query;
  show("status", "Updated " + new Date().toLocaleTimeString());
}

try {
  const session = await requireSession(["member", "operator", "partner"], "/app");
  header("Coalition hub", session, session.kind === "member" ? [["/app", "Wallet"], ["/boards", "Ambassadors"]] : [[session.home, "Home"]]);
  const data = await gql("{ partners(first: 50) { nodes { id name slug category } } }");
  for (const p of data.partners.nodes.filter((p) => p.category !== "CHARITY")) {
    form.elements.scope.append(h("option", { value: p.id, "data-slug": p.slug }, p.name));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); refresh().catch((err) => fail("status", err)); });
  await refresh();
  setInterval(() => refresh().catch((err) => fail("status", err)), 10000);
} catch (error) {
  fail("status", error);
}
