// A banner on Locust's own page: this run is driven by a schedule, and the surge view is here.
"use strict";
(function () {
  const bar = document.createElement("div");
  bar.id = "surge-banner";
  bar.style.cssText = "position:sticky;top:0;z-index:2000;padding:8px 16px;background:#101828;color:#fff;" +
    "font:14px system-ui,sans-serif;display:flex;gap:16px;align-items:center";
  const text = document.createElement("span");
  text.textContent = "Open-model run: the surge schedule controls the load; user count and spawn rate do not apply.";
  const link = document.createElement("a");
  link.href = "surge/";
  link.textContent = "Open the surge view →";
  link.style.cssText = "color:#93c5fd;font-weight:600";
  bar.append(text, link);
  document.body.prepend(bar);

  // Locust's "Surge" tab renders its table cells as text: make the surge view's address
  // there a link. React owns the cell's content, so only attributes are added (role,
  // style) and one click handler on the document follows it.
  const isViewCell = (node) => node && node.tagName === "TD" && node.textContent.startsWith("/surge/");
  const mark = () => {
    for (const cell of document.querySelectorAll("td")) {
      if (!isViewCell(cell) || cell.getAttribute("role") === "link") continue;
      cell.setAttribute("role", "link");
      cell.setAttribute("title", "open the surge view");
      cell.style.cssText = "color:#2563eb;text-decoration:underline;cursor:pointer";
    }
  };
  new MutationObserver(mark).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("click", (event) => {
    const cell = event.target.closest && event.target.closest("td");
    if (isViewCell(cell)) window.location.href = "surge/";
  });
})();
