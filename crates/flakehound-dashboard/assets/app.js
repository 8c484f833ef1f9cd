// Progressive enhancement only: every filter and sort works as a plain form or link without it.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // The tests filters apply as soon as a choice changes.
    var form = document.querySelector("form.filters");
    if (form) {
      form.querySelectorAll("select").forEach(function (s) {
        s.addEventListener("change", function () { form.submit(); });
      });
      // "/" focuses the text search (unless typing in a field already).
      document.addEventListener("keydown", function (e) {
        var t = e.target && e.target.tagName;
        if (e.key === "/" && t !== "INPUT" && t !== "SELECT" && t !== "TEXTAREA") {
          var q = document.getElementById("f-q");
          if (q) { e.preventDefault(); q.focus(); }
        }
      });
    }
    // Times are UTC in the pages; a title shows them in the reader's zone.
    document.querySelectorAll("td, dd").forEach(function (el) {
      var m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.exec(el.textContent.trim());
      if (m) {
        var d = new Date(el.textContent.trim());
        if (!isNaN(d)) { el.title = d.toLocaleString(); }
      }
    });
  });
})();
