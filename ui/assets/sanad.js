// Sanad: clicking a citation [n] brings its source card into view (opening a collapsed list if needed)
// and flashes it; hovering highlights it. Delegated on the document: chat messages arrive dynamically.
(function () {
  if (window.__sanadCites) return;
  window.__sanadCites = true;
  function target(a) {
    var id = (a.getAttribute("href") || "").replace(/^#/, "");
    return id ? document.getElementById(id) : null;
  }
  document.addEventListener("click", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a.sanad-cite") : null;
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    var t = target(a);
    if (!t) return;
    var d = t.closest("details");
    if (d) d.open = true;
    t.scrollIntoView({ behavior: "smooth", block: "nearest" });
    t.classList.remove("sanad-flash");
    void t.offsetWidth;
    t.classList.add("sanad-flash");
  }, true);
  document.addEventListener("mouseover", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a.sanad-cite") : null;
    if (!a) return;
    var t = target(a);
    if (t) t.classList.add("sanad-hover");
  });
  document.addEventListener("mouseout", function (e) {
    var a = e.target && e.target.closest ? e.target.closest("a.sanad-cite") : null;
    if (!a) return;
    var t = target(a);
    if (t) t.classList.remove("sanad-hover");
  });
})();
