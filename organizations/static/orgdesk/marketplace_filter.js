// Marketplace: instant filtering of the app cards as you type
// (templates/admin/scim/marketplace_apps.html); the form's ?q= does the same on
// the server without JavaScript. Hiding sets the `hidden` property and the
// CSSOM display, both of which the Content-Security-Policy allows (a style=""
// attribute written into markup it would not).
(function () {
  "use strict";
  const input = document.getElementById("app-search");
  const empty = document.getElementById("no-apps");
  if (!input || !empty) return;
  const cards = Array.from(document.querySelectorAll("#app-cards .scim-card"));
  input.addEventListener("input", function () {
    const q = input.value.trim().toLowerCase();
    let shown = 0;
    cards.forEach(function (card) {
      const match = !q || card.dataset.search.includes(q);
      card.hidden = !match;
      card.style.display = match ? "" : "none";
      if (match) shown += 1;
    });
    empty.hidden = shown > 0;
  });
})();
