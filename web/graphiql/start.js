// Starts GraphiQL (web/vendor/graphiql/, served by the hub) against this hub's /graphql.
// Tokens go in the headers editor: {"Authorization": "Bearer <token>"}.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    }),
  );
})();
