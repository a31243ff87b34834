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
  // Gradio labels each message with its raw content for screen readers; ours is HTML, so give them the text.
  function relabel(root) {
    var els = (root.querySelectorAll ? root.querySelectorAll("[aria-label*='sanad-msg']") : []);
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var who = el.getAttribute("data-testid") === "user" ? "user's message: " : "bot's message: ";
      el.setAttribute("aria-label", who + (el.innerText || "").trim().slice(0, 600));
    }
  }
  function start() {
    new MutationObserver(function () { relabel(document); })
      .observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"] });
    relabel(document);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
