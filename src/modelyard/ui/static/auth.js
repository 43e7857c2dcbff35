// With authentication on, every POST form carries the session's CSRF token
// (the server refuses a form without it). The token comes from the page's meta tag.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) return;
  function stamp(form) {
    if ((form.method || "").toLowerCase() !== "post" || form.querySelector('input[name="csrf"]')) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrf";
    input.value = meta.content;
    form.appendChild(input);
  }
  document.querySelectorAll("form").forEach(stamp);
  document.addEventListener("submit", function (event) { stamp(event.target); }, true);
})();
