// The public board (src/http/boards.rs): reads /boards/public/data with this page's query
// every 5 seconds and shows it. Handles are written as text, never as markup.
(function () {
  var periods = { week: "this week", month: "this month", "all-time": "of all time" };
  var params = new URLSearchParams(location.search);
  var period = params.get("period") || "week";
  var title = "Ambassadors " + (periods[period] || "");
  if (params.get("partner")) title += " at " + params.get("partner");
  document.getElementById("title").textContent = title;
  document.title = title;

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = String(text);
    if (cls) td.className = cls;
    return td;
  }

  function show(board) {
    var rows = document.createDocumentFragment();
    board.entries.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(e.rank, "rank"));
      tr.appendChild(cell(e.handle, "handle"));
      tr.appendChild(cell(e.score, "score"));
      rows.appendChild(tr);
    });
    var body = document.getElementById("entries");
    body.replaceChildren(rows);
    document.getElementById("status").textContent =
      board.entries.length === 0
        ? "No ambassador has scored yet."
        : board.totalRanked + " ranked · updated " + new Date().toLocaleTimeString();
  }

  function refresh() {
    fetch("/boards/public/data" + location.search, { cache: "no-store" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error((body.errors && body.errors[0] && body.errors[0].message) || r.status);
          return body;
        });
      })
      .then(show)
      .catch(function (e) {
        document.getElementById("status").textContent = "The board is unavailable (" + e.message + "); retrying.";
      })
      .finally(function () { setTimeout(refresh, 5000); });
  }
  refresh();
})();
