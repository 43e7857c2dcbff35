// Deep links from MLflow clients. `mlflow.start_run()` prints
// "View run at http://<server>/#/experiments/<id>/runs/<run_id>", and MLflow's
// other links use the same hash routes. The part after '#' never reaches the
// server, so the front page maps it here to the matching modelyard page and
// replaces itself with it (no history entry); with no hash, or one we have no
// page for, it opens the experiments list. Loaded by templates/front.html only.
(function () {
  "use strict";

  function seg(text) {
    var decoded;
    try {
      decoded = decodeURIComponent(text);
    } catch (e) {
      decoded = text;
    }
    return encodeURIComponent(decoded);
  }

  function idsFromParam(query, name) {
    // MLflow writes compare-runs?runs=["a","b"]&experiments=["1"] (JSON, URL-encoded).
    var match = new RegExp("(?:^|&)" + name + "=([^&]*)").exec(query);
    if (!match) return [];
    try {
      var value = JSON.parse(decodeURIComponent(match[1]));
      return Array.isArray(value) ? value.map(String) : [];
    } catch (e) {
      return [];
    }
  }

  function target(hash) {
    var route = hash.replace(/^#/, "");
    var query = "";
    var q = route.indexOf("?");
    if (q >= 0) {
      query = route.slice(q + 1);
      route = route.slice(0, q);
    }
    var parts = route.split("/").filter(function (p) { return p !== ""; });
    if (parts[0] === "experiments") {
      // /experiments/<id>/runs/<run_id>[/artifacts/...], /experiments/<id>[/...]
      if (parts.length >= 4 && parts[2] === "runs") return "/runs/" + seg(parts[3]);
      if (parts.length >= 2 && /^\d+$/.test(parts[1])) return "/experiments/" + seg(parts[1]);
      return "/experiments";
    }
    if (parts[0] === "runs" && parts.length >= 2) return "/runs/" + seg(parts[1]);
    if (parts[0] === "models") {
      if (parts.length >= 4 && parts[2] === "versions" && /^\d+$/.test(parts[3])) {
        return "/models/" + seg(parts[1]) + "/versions/" + parts[3];
      }
      if (parts.length >= 2) return "/models/" + seg(parts[1]);
      return "/models";
    }
    if (parts[0] === "compare-runs") {
      var runs = idsFromParam(query, "runs");
      if (runs.length) {
        return "/compare?" + runs.map(function (r) { return "run=" + encodeURIComponent(r); }).join("&");
      }
      return "/experiments";
    }
    if (parts[0] === "metric") {
      // metric/<key>?runs=["<run_id>"]: the run's page shows its charts.
      var metricRuns = idsFromParam(query, "runs");
      if (metricRuns.length === 1) return "/runs/" + encodeURIComponent(metricRuns[0]);
    }
    return "/experiments";
  }

  window.location.replace(target(window.location.hash || ""));
})();
