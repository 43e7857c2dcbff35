/* modelyard UI: small progressive enhancements. Every page works without this
   file; it localises times, wires the runs table's selection, and swaps the
   artifact browser's fragments in place (keeping the URL, so links and the
   back button still work). */
(function () {
  "use strict";

  function localiseTimes(root) {
    root.querySelectorAll("time[data-ms]").forEach(function (el) {
      var ms = Number(el.getAttribute("data-ms"));
      if (!isFinite(ms)) return;
      el.title = el.textContent;
      el.textContent = new Date(ms).toLocaleString();
    });
  }

  function wireSelection() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var button = document.getElementById("compare-button");
    var count = document.getElementById("selection-count");
    var all = document.getElementById("select-all");
    function boxes() { return form.querySelectorAll("input[name=run]"); }
    function update() {
      var n = form.querySelectorAll("input[name=run]:checked").length;
      button.disabled = n < 2;
      var chart = document.getElementById("chart-button");
      if (chart) chart.disabled = n < 1;
      count.textContent = n ? n + " selected" : "Tick two or more runs to compare them";
    }
    form.addEventListener("change", function (ev) {
      if (ev.target === all) boxes().forEach(function (b) { b.checked = all.checked; });
      update();
    });
    update();
  }

  function wireAutosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
    document.querySelectorAll("[data-back]").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        if (history.length > 1) { ev.preventDefault(); history.back(); }
      });
    });
  }

  /* -- artifact browser -------------------------------------------------- */
  function wireArtifacts() {
    var box = document.querySelector(".artifacts[data-base]");
    if (!box) return;
    var pane = document.getElementById("artifact-preview");
    var base = box.getAttribute("data-base");

    function fetchHtml(url) {
      return fetch(url, { headers: { accept: "text/html" } }).then(function (r) {
        return r.text().then(function (t) {
          if (!r.ok) throw new Error(textOf(t) || ("HTTP " + r.status));
          return t;
        });
      });
    }
    function textOf(html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var msg = doc.querySelector(".error-message");
      return msg ? msg.textContent : "";
    }
    function showError(target, message) {
      target.textContent = "";
      var p = document.createElement("p");
      p.className = "alert error";
      p.textContent = message;
      target.appendChild(p);
    }
    function markSelected(path) {
      box.querySelectorAll(".artifact-link.selected").forEach(function (a) { a.classList.remove("selected"); });
      box.querySelectorAll(".artifact-tree .artifact-link").forEach(function (a) {
        if (a.getAttribute("data-path") === path) a.classList.add("selected");
      });
    }
    function showPreview(path) {
      markSelected(path);
      if (!path) { pane.innerHTML = '<p class="muted">Choose a file to preview it.</p>'; return; }
      fetchHtml(base + "/artifact-preview?path=" + encodeURIComponent(path)).then(function (html) {
        pane.innerHTML = html;
        localiseTimes(pane);
      }, function (err) { showError(pane, err.message); });
    }
    function loadChildren(details) {
      if (details.getAttribute("data-loaded")) return;
      details.setAttribute("data-loaded", "1");
      var target = details.querySelector(".tree-children");
      fetchHtml(base + "/artifact-tree?path=" + encodeURIComponent(details.getAttribute("data-path")))
        .then(function (html) { target.innerHTML = html; },
              function (err) { details.removeAttribute("data-loaded"); showError(target, err.message); });
    }
    function urlFor(path) {
      var url = new URL(location.href);
      if (path) url.searchParams.set("artifact", path); else url.searchParams.delete("artifact");
      url.hash = "artifacts";
      return url.toString();
    }

    box.addEventListener("click", function (ev) {
      var link = ev.target.closest("a.artifact-link");
      if (!link || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
      ev.preventDefault();
      var path = link.getAttribute("data-path");
      var details = link.closest("details");
      if (details && link.classList.contains("dir") && details.getAttribute("data-path") === path) {
        details.open = true;
        loadChildren(details);
      }
      history.pushState({ artifact: path }, "", urlFor(path));
      showPreview(path);
    });
    box.addEventListener("toggle", function (ev) {
      var d = ev.target;
      if (d.tagName === "DETAILS" && d.open) loadChildren(d);
    }, true);
    window.addEventListener("popstate", function () {
      showPreview(new URL(location.href).searchParams.get("artifact") || "");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    wireSelection();
    wireAutosubmit();
    wireArtifacts();
  });
})();
