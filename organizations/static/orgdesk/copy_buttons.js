// Copy buttons: a <button data-copy="INPUT_ID"> copies that input's value
// (templates/admin/orgdesk/_copy_buttons.html). A static file, not inline: the
// Content-Security-Policy allows scripts from 'self' only.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      const input = document.getElementById(button.dataset.copy);
      const done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();  // plain-HTTP dev servers have no clipboard API: select for Ctrl+C
        try { document.execCommand("copy"); done(); } catch (e) { /* selected; user copies */ }
      }
    });
  });
})();
